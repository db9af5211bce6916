import { connect as tlsConnect } from 'node:tls';
import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, createLogger, listenOn } from '@ambient/core';
import { WorkloadCertificate, clientTlsOptions } from '@ambient/identity';
import { TestPki } from '@ambient/testing';
import { HboneServer } from './server.js';

const SERVER_IP = '127.22.1.1';
const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';
const logger = createLogger({ level: 'silent' });

let serverCert: WorkloadCertificate;
let clientCert: WorkloadCertificate;

beforeAll(async () => {
  const pki = await TestPki.create();
  serverCert = WorkloadCertificate.fromPem(await pki.issue({ identity: SERVER_ID }));
  clientCert = WorkloadCertificate.fromPem(await pki.issue({ identity: CLIENT_ID }));
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Resolves with the ALPN protocol the server agreed to, once the handshake is done. */
function handshake(port: number): Promise<string | false> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ ...clientTlsOptions(clientCert, [SERVER_ID]), host: SERVER_IP, port }, () => {
      resolve(socket.alpnProtocol ?? false);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

describe('HboneServer.listen with a bind hook', () => {
  it('listens wherever the hook makes it listen (a namespace socket, in-pod)', async () => {
    const bound: string[] = [];
    const server = await HboneServer.listen({
      certificate: serverCert,
      logger,
      onStream: ({ stream }) => {
        stream.respond({ ':status': 200 });
      },
      bind: async (inner) => {
        bound.push('bind called');
        await listenOn(inner, SERVER_IP, 0, 'test');
      },
    });
    cleanups.push(() => {
      server.destroy();
    });
    expect(bound).toEqual(['bind called']);
    expect(server.port).toBeGreaterThan(0);
    expect(await handshake(server.port)).toBe('h2');
  });

  it('fails with the hook’s error, leaving nothing behind', async () => {
    const blocker = net.createServer();
    await listenOn(blocker, SERVER_IP, 0, 'blocker');
    cleanups.push(() => void closeServer(blocker));
    const taken = (blocker.address() as net.AddressInfo).port;
    await expect(
      HboneServer.listen({
        certificate: serverCert,
        logger,
        onStream: () => undefined,
        bind: (inner) => listenOn(inner, SERVER_IP, taken, 'in-pod HBONE'),
      }),
    ).rejects.toMatchObject({ code: 'MESH_ERR_LISTEN_FAILED' });
  });
});
