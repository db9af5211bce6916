import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { greeting, parseReply, startDemoApp, type DemoApp } from './apps.js';

// Out of the demo's own 127.0.1-3.x and the other suites' 127.20+.
const APP_IP = '127.0.9.1';
const CALLER_IP = '127.0.9.2';

function talk(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: APP_IP, port, localAddress: CALLER_IP, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => {
      resolve(Buffer.concat(chunks).toString());
    });
    socket.once('error', reject);
    socket.end(request);
  });
}

describe('demo app', () => {
  let app: DemoApp;
  beforeAll(async () => {
    app = await startDemoApp('echo-v9', APP_IP, 0);
  });
  afterAll(async () => {
    await app.close();
  });

  it('greets with its name and the caller it saw, then echoes until the caller half-closes', async () => {
    const reply = await talk(app.port, 'ping\nmore');
    expect(reply).toBe(`${greeting('echo-v9', APP_IP, CALLER_IP)}ping\nmore`);
    expect(parseReply(reply)).toEqual({ name: 'echo-v9', ip: APP_IP, peerIp: CALLER_IP, echo: 'ping\nmore' });
  });

  it('greets a caller that sends nothing', async () => {
    expect(await talk(app.port, '')).toBe(greeting('echo-v9', APP_IP, CALLER_IP));
  });

  it('answers an HTTP request with the greeting as the body', async () => {
    const reply = await talk(app.port, 'GET / HTTP/1.1\r\nhost: echo\r\n\r\n');
    const [head = '', body] = reply.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(body).toBe(greeting('echo-v9', APP_IP, CALLER_IP));
  });

  it('does not take an arbitrary reply for a greeting', () => {
    expect(parseReply('hello world\n')).toBeUndefined();
  });
});
