import { spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, socks5Connect, startEchoServer, type EchoServer } from '@ambient/testing';
import { eventually, LoopbackMesh, meshWorkload } from './harness.js';

// Addresses of this file: nodes 127.24.0.x, pods 127.24.1.x (node-a) and 127.24.2.x (node-b).
const NODE_A = '127.24.0.1';
const NODE_B = '127.24.0.2';
const NODE_C = '127.24.0.3';
const CLIENT = '127.24.1.1';
const ECHO = '127.24.2.1';
const MAIN = join(import.meta.dirname, '../../daemonset/dist/main.js');

describe('ztunnel lifecycle: startup, quit, drain', () => {
  let mesh: LoopbackMesh;
  let echo: EchoServer;

  beforeAll(async () => {
    mesh = await LoopbackMesh.create({
      workloads: [meshWorkload('client', CLIENT, 'node-a'), meshWorkload('echo', ECHO, 'node-b')],
    });
    echo = await startEchoServer(ECHO, 7000);
  });

  afterAll(async () => {
    await mesh.close();
    await echo.close();
  });

  it('fails startup with a clear error when a port is taken', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(15000, NODE_C, resolve));
    try {
      await expect(mesh.startZtunnel('node-c', NODE_C)).rejects.toMatchObject({
        code: 'MESH_ERR_LISTEN_FAILED',
        message: `admin listener could not bind ${NODE_C}:15000: the address is already in use`,
      });
      // Whatever it had bound before failing is released again.
      await new Promise<void>((resolve, reject) => {
        const probe = net.createServer();
        probe.once('error', reject);
        probe.listen(15021, NODE_C, () => {
          probe.close(() => {
            resolve();
          });
        });
      });
    } finally {
      squatter.close();
    }
  });

  it('exits 0 after POST /quitquitquit, and reports the bad config of a second start', async () => {
    const env = {
      ...process.env,
      NODE_NAME: 'node-c',
      INSTANCE_IP: NODE_C,
      LOCAL_XDS_PATH: mesh.configPath,
      WORKLOAD_CERTS_DIR: join(mesh.dir, 'certs'),
      LOG_LEVEL: 'warn',
    };
    const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await eventually(async () => {
      expect((await fetch(`http://${NODE_C}:15021/healthz/ready`)).status).toBe(200);
    }, 250);
    const res = await fetch(`http://${NODE_C}:15000/quitquitquit`, { method: 'POST' });
    expect(await res.text()).toBe('shutdown now\n');
    expect(await exited).toBe(0);

    const bad = spawn(process.execPath, [MAIN], {
      env: { ...env, STATS_PORT: 'lots', POOL_UNUSED_RELEASE_TIMEOUT: 'soon' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    bad.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    expect(await new Promise((resolve) => bad.on('exit', resolve))).toBe(2);
    // Both problems in one report, each naming its variable.
    expect(stderr).toContain('STATS_PORT');
    expect(stderr).toContain('POOL_UNUSED_RELEASE_TIMEOUT');
  });

  it('drains: keeps an open tunnel until the client closes it, refusing new ones', async () => {
    const a = await mesh.startZtunnel('node-a', NODE_A, { CONNECTION_TERMINATION_DEADLINE: '30s' });
    const b = await mesh.startZtunnel('node-b', NODE_B);
    const open = () =>
      socks5Connect({
        proxyIp: NODE_A,
        proxyPort: 15080,
        sourceIp: CLIENT,
        targetHost: ECHO,
        targetPort: 7000,
      });
    const socket = await open();
    socket.write('first half, ');
    let drained = false;
    const draining = a.ztunnel.shutdown().then(() => (drained = true));
    await expect(open()).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(drained).toBe(false);
    expect((await exchange(socket, 'second half')).toString()).toBe('first half, second half');
    await draining;
    expect(drained).toBe(true);
    await b.ztunnel.shutdown();
  });

  it('drains: closes what is left at the deadline', async () => {
    const a = await mesh.startZtunnel('node-a', NODE_A, { CONNECTION_TERMINATION_DEADLINE: '200ms' });
    const b = await mesh.startZtunnel('node-b', NODE_B);
    const socket = await socks5Connect({
      proxyIp: NODE_A,
      proxyPort: 15080,
      sourceIp: CLIENT,
      targetHost: ECHO,
      targetPort: 7000,
    });
    socket.resume();
    // The client socket allows half-open, so what it sees of a forced close is the FIN.
    const ended = new Promise((resolve) => socket.on('end', resolve));
    await a.ztunnel.shutdown();
    await ended;
    expect(a.ztunnel.connections.size).toBe(0);
    expect(a.logs.withMessage('drain deadline reached; closing remaining connections')).toHaveLength(1);
    await b.ztunnel.shutdown();
  });
});
