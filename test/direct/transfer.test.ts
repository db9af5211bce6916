import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socks5Connect, startEchoServer, type EchoServer } from '@ambient/testing';
import { eventually, LoopbackMesh, meshWorkload, sampleSum } from './harness.js';

// Addresses of this file: nodes 127.23.0.x, pods 127.23.1.x (node-a) and 127.23.2.x (node-b).
const NODE_A = '127.23.0.1';
const NODE_B = '127.23.0.2';
const CLIENT = '127.23.1.1';
const ECHO = '127.23.2.1';
const TALKER = '127.23.2.2';
const MIB = 1024 * 1024;

describe('bulk transfers and half-close through two ztunnels', () => {
  let mesh: LoopbackMesh;
  let echo: EchoServer;
  let talker: net.Server;
  const talkerReceived: string[] = [];

  beforeAll(async () => {
    mesh = await LoopbackMesh.create({
      workloads: [
        meshWorkload('client', CLIENT, 'node-a'),
        meshWorkload('echo', ECHO, 'node-b'),
        meshWorkload('talker', TALKER, 'node-b'),
      ],
    });
    echo = await startEchoServer(ECHO, 9000);
    // Speaks first and half-closes at once, then keeps reading what the client still sends.
    talker = net.createServer({ allowHalfOpen: true }, (socket) => {
      let got = '';
      socket.on('data', (chunk: Buffer) => (got += chunk.toString()));
      socket.on('end', () => {
        talkerReceived.push(got);
        socket.destroy();
      });
      socket.end('server speaks first and is done talking');
    });
    await new Promise<void>((resolve) => talker.listen(9000, TALKER, resolve));
    await mesh.startZtunnel('node-a', NODE_A);
    await mesh.startZtunnel('node-b', NODE_B);
  });

  afterAll(async () => {
    await mesh.close();
    await echo.close();
    talker.close();
  });

  const open = (target: string) =>
    socks5Connect({
      proxyIp: NODE_A,
      proxyPort: 15080,
      sourceIp: CLIENT,
      targetHost: target,
      targetPort: 9000,
    });

  it('moves 64 MiB each way byte-exact and counts every byte', async () => {
    const socket = await open(ECHO);
    const sent = createHash('sha256');
    const received = createHash('sha256');
    let receivedBytes = 0;
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        received.update(chunk);
        receivedBytes += chunk.length;
      });
      socket.on('end', resolve);
      socket.on('error', reject);
    });
    socket.resume();
    for (let i = 0; i < 64; i++) {
      const chunk = randomBytes(MIB);
      sent.update(chunk);
      if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
    }
    socket.end();
    await done;
    expect(receivedBytes).toBe(64 * MIB);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    await eventually(async () => {
      const text = await (await fetch(`http://${NODE_B}:15020/metrics`)).text();
      const labels = { reporter: 'destination', destination_workload: 'echo' };
      expect(sampleSum(text, 'istio_tcp_received_bytes_total', labels)).toBe(64 * MIB);
      expect(sampleSum(text, 'istio_tcp_sent_bytes_total', labels)).toBe(64 * MIB);
    });
  });

  it('keeps the response flowing after the client half-closes', async () => {
    const socket = await open(ECHO);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.resume();
    const ended = new Promise((resolve) => socket.on('end', resolve));
    socket.end('request then FIN');
    await ended;
    expect(Buffer.concat(chunks).toString()).toBe('request then FIN');
  });

  it('keeps the request flowing after the server half-closes', async () => {
    const socket = await open(TALKER);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.resume();
    await new Promise((resolve) => socket.on('end', resolve));
    expect(Buffer.concat(chunks).toString()).toBe('server speaks first and is done talking');
    // The server's FIN arrived; our direction is still open.
    socket.end('client still talking after the server FIN');
    await new Promise((resolve) => socket.on('close', resolve));
    await eventually(() => {
      expect(talkerReceived).toContain('client still talking after the server FIN');
    });
  });
});
