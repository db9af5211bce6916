import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBenchPki, type BenchPki } from './bench-pki.js';
import { checkMutualTls } from './mtls-check.js';

// Loopback only, apart from the bench's own 127.30.0–5.x addresses.
const HOST = '127.30.250.1';

async function echoServer(pki: BenchPki, options: tls.TlsOptions): Promise<tls.Server> {
  const server = tls.createServer(
    {
      cert: await readFile(pki.server.chainPath),
      key: await readFile(pki.server.keyPath),
      ca: pki.rootPem,
      ...options,
    },
    (socket) => {
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return server;
}

function portOf(server: tls.Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  return address.port;
}

describe('checkMutualTls', () => {
  let dir: string;
  let pki: BenchPki;
  const servers: tls.Server[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-mtls-'));
    pki = await writeBenchPki(dir);
  });

  afterAll(async () => {
    for (const server of servers) server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('passes a TLS 1.3 server that requires and verifies a client certificate', async () => {
    const server = await echoServer(pki, {
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    });
    servers.push(server);
    await expect(checkMutualTls(HOST, portOf(server), pki)).resolves.toMatch(/^TLS_AES_/);
  });

  it('fails a server that carries data for a client without a certificate', async () => {
    const server = await echoServer(pki, { requestCert: false, minVersion: 'TLSv1.3' });
    servers.push(server);
    await expect(checkMutualTls(HOST, portOf(server), pki)).rejects.toThrow(/without a certificate/);
  });

  it('fails a server that speaks only TLS 1.2', async () => {
    const server = await echoServer(pki, {
      requestCert: true,
      rejectUnauthorized: true,
      maxVersion: 'TLSv1.2',
    });
    servers.push(server);
    await expect(checkMutualTls(HOST, portOf(server), pki)).rejects.toThrow(/TLSv1\.2/);
  });
});
