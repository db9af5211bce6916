import { constants, type ClientHttp2Stream } from 'node:http2';
import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@ambient/core';
import { WorkloadCertificate, type CertificateProvider } from '@ambient/identity';
import { TestPki } from '@ambient/testing';
import { HbonePool, type HboneDialer, type PoolKey } from './pool.js';
import { HboneServer } from './server.js';

const SERVER_IP = '127.22.0.1';
const CLIENT_IP = '127.22.0.2';
const OTHER_CLIENT_IP = '127.22.0.3';
const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';
const logger = createLogger({ level: 'silent' });

let serverCert: WorkloadCertificate;
let certificates: CertificateProvider;

beforeAll(async () => {
  const pki = await TestPki.create();
  serverCert = WorkloadCertificate.fromPem(await pki.issue({ identity: SERVER_ID }));
  const clientCert = WorkloadCertificate.fromPem(await pki.issue({ identity: CLIENT_ID }));
  certificates = { certificateFor: (id) => (id === CLIENT_ID ? clientCert : undefined) };
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** An HBONE server that answers every CONNECT with 200 and echoes; counts sessions it saw. */
async function echoServer(port = 0): Promise<{ server: HboneServer; sessions: Set<unknown> }> {
  const sessions = new Set<unknown>();
  const server = await HboneServer.listen({
    host: SERVER_IP,
    port,
    certificate: serverCert,
    logger,
    onStream: ({ stream }) => {
      sessions.add(stream.session);
      stream.respond({ ':status': 200 });
      stream.pipe(stream);
    },
  });
  cleanups.push(() => {
    server.destroy();
  });
  return { server, sessions };
}

function newPool(options: Partial<ConstructorParameters<typeof HbonePool>[0]> = {}): HbonePool {
  const pool = new HbonePool({ certificates, logger, ...options });
  cleanups.push(() => {
    pool.destroy();
  });
  return pool;
}

const keyFor = (port: number, overrides: Partial<PoolKey> = {}): PoolKey => ({
  sourceIdentity: CLIENT_ID,
  expectedIdentities: [SERVER_ID],
  destinationIp: SERVER_IP,
  destinationPort: port,
  sourceIp: CLIENT_IP,
  ...overrides,
});

function roundTrip(stream: ClientHttp2Stream, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    stream.on('data', (chunk: Buffer) => (data += chunk.toString()));
    stream.on('end', () => {
      resolve(data);
    });
    stream.on('error', reject);
    stream.end(text);
  });
}

/** A dialer that connects from the host, as an in-pod dialer would from a namespace, and logs its dials. */
function recordingDialer(name: string, dials: string[], fail = false): HboneDialer {
  return {
    name,
    connect: (ip, port) => {
      dials.push(`${name} ${ip}:${String(port)}`);
      if (fail) return Promise.reject(new Error('no route from here'));
      return new Promise((resolve, reject) => {
        const socket = net.connect({ host: ip, port, localAddress: CLIENT_IP }, () => {
          socket.off('error', reject);
          resolve(socket);
        });
        socket.once('error', reject);
      });
    },
  };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

describe('HbonePool', () => {
  it('reuses one session for sequential tunnels of one key', async () => {
    const { server, sessions } = await echoServer();
    const pool = newPool();
    for (const word of ['one', 'two', 'three']) {
      const stream = await pool.connect(keyFor(server.port), { authority: '127.22.0.9:80' });
      expect(await roundTrip(stream, word)).toBe(word);
    }
    expect(pool.stats().sessionsOpened).toBe(1);
    expect(sessions.size).toBe(1);
  });

  it('coalesces 100 concurrent tunnels of a new key onto one session', async () => {
    const { server, sessions } = await echoServer();
    const pool = newPool();
    const streams = await Promise.all(
      Array.from({ length: 100 }, () => pool.connect(keyFor(server.port), { authority: '127.22.0.9:80' })),
    );
    expect(pool.stats()).toMatchObject({ sessionsOpened: 1, activeStreams: 100 });
    const replies = await Promise.all(streams.map((s, i) => roundTrip(s, `msg-${String(i)}`)));
    expect(replies).toEqual(streams.map((_s, i) => `msg-${String(i)}`));
    expect(sessions.size).toBe(1);
  });

  it('opens another session when the stream limit is reached', async () => {
    const { server, sessions } = await echoServer();
    const pool = newPool({ maxStreamsPerConnection: 100 });
    const streams = await Promise.all(
      Array.from({ length: 101 }, () => pool.connect(keyFor(server.port), { authority: '127.22.0.9:80' })),
    );
    expect(pool.stats().sessionsOpened).toBe(2);
    expect(sessions.size).toBe(2);
    for (const stream of streams) stream.close(constants.NGHTTP2_CANCEL);
  });

  it('keeps distinct keys on distinct sessions', async () => {
    const { server, sessions } = await echoServer();
    const pool = newPool();
    await roundTrip(await pool.connect(keyFor(server.port), { authority: '127.22.0.9:80' }), 'a');
    await roundTrip(
      await pool.connect(keyFor(server.port, { sourceIp: OTHER_CLIENT_IP }), { authority: '127.22.0.9:80' }),
      'b',
    );
    await roundTrip(
      await pool.connect(
        keyFor(server.port, { expectedIdentities: [SERVER_ID, 'spiffe://cluster.local/ns/default/sa/x'] }),
        {
          authority: '127.22.0.9:80',
        },
      ),
      'c',
    );
    expect(pool.stats().sessionsOpened).toBe(3);
    expect(sessions.size).toBe(3);
  });

  it('moves to a new session after GOAWAY while the old tunnel keeps working', async () => {
    const first = await echoServer();
    const pool = newPool();
    const old = await pool.connect(keyFor(first.server.port), { authority: '127.22.0.9:80' });
    old.write('before ');
    first.server.drain(); // GOAWAY, and the listener closes
    await until(() => pool.stats().sessions === 0);
    const second = await echoServer(first.server.port);
    const fresh = await pool.connect(keyFor(second.server.port), { authority: '127.22.0.9:80' });
    expect(await roundTrip(fresh, 'new')).toBe('new');
    expect(await roundTrip(old, 'after')).toBe('before after');
    expect(pool.stats().sessionsOpened).toBe(2);
  });

  it('evicts a session left idle, and dials again on next use', async () => {
    const { server } = await echoServer();
    const pool = newPool({ idleTimeoutMs: 50 });
    await roundTrip(await pool.connect(keyFor(server.port), { authority: '127.22.0.9:80' }), 'x');
    await until(() => pool.stats().sessions === 0 && server.activeSessions === 0);
    await roundTrip(await pool.connect(keyFor(server.port), { authority: '127.22.0.9:80' }), 'y');
    expect(pool.stats().sessionsOpened).toBe(2);
  });

  it('fails every waiter of a dial that fails, with the reason', async () => {
    const pool = newPool();
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => pool.connect(keyFor(1), { authority: '127.22.0.9:80' })),
    );
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect(String((result as PromiseRejectedResult).reason)).toContain('127.22.0.1:1');
    }
  });

  it('reports a non-200 answer as a rejection with the status', async () => {
    const server = await HboneServer.listen({
      host: SERVER_IP,
      port: 0,
      certificate: serverCert,
      logger,
      onStream: ({ stream }) => {
        stream.respond({ ':status': 401 }, { endStream: true });
      },
    });
    cleanups.push(() => {
      server.destroy();
    });
    const pool = newPool();
    await expect(pool.connect(keyFor(server.port), { authority: '127.22.0.9:80' })).rejects.toMatchObject({
      code: 'MESH_ERR_HBONE_REJECTED',
      message: expect.stringContaining('401') as unknown,
    });
  });

  it('dials through a dialer hook, never sharing its sessions with the host or another dialer', async () => {
    const { server, sessions } = await echoServer();
    const pool = newPool();
    const dials: string[] = [];
    const podA = recordingDialer('pod-a', dials);
    const podB = recordingDialer('pod-b', dials);
    const keys = [
      keyFor(server.port, { dialer: podA }),
      keyFor(server.port, { dialer: podA }),
      keyFor(server.port, { dialer: podB }),
      keyFor(server.port),
    ];
    for (const [i, key] of keys.entries()) {
      const word = `w${String(i)}`;
      expect(await roundTrip(await pool.connect(key, { authority: '127.22.0.9:80' }), word)).toBe(word);
    }
    const target = `${SERVER_IP}:${String(server.port)}`;
    expect(dials).toEqual([`pod-a ${target}`, `pod-b ${target}`]);
    expect(pool.stats().sessionsOpened).toBe(3);
    expect(sessions.size).toBe(3);

    // A pod going away retires only the sessions dialled from it.
    pool.retireDialer('pod-a');
    expect(pool.stats().sessions).toBe(2);
    await roundTrip(
      await pool.connect(keyFor(server.port, { dialer: podA }), { authority: '127.22.0.9:80' }),
      'x',
    );
    expect(dials).toHaveLength(3);
  });

  it('reports a dialer that cannot connect as a connect failure', async () => {
    const { server } = await echoServer();
    const pool = newPool();
    const dialer = recordingDialer('broken', [], true);
    await expect(
      pool.connect(keyFor(server.port, { dialer }), { authority: '127.22.0.9:80' }),
    ).rejects.toMatchObject({
      code: 'MESH_ERR_CONNECT_FAILED',
      message: expect.stringContaining('no route from here') as unknown,
    });
  });
});
