// @ambient/identity's TLS options, end to end over real loopback sockets with certificates from
// the test PKI. They live here because identity cannot depend on @ambient/testing.
import { EventEmitter, once } from 'node:events';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, errorMessage, isMeshError } from '@ambient/core';
import {
  EXPECTED_SAN_MISMATCH,
  HBONE_ALPN,
  WorkloadCertificate,
  clientTlsOptions,
  formatIdentity,
  peerIdentity,
  serverTlsOptions,
  verifyClientIdentity,
  type Identity,
} from '@ambient/identity';
import { TestPki } from './pki.js';

const LOOPBACK = '127.0.0.1';
const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';

/** What the server saw: accepted peers, and every handshake or identity failure, in order. */
interface TestServer {
  readonly port: number;
  readonly accepted: string[];
  readonly failures: EventEmitter<{ failure: [Error] }>;
  /** Whether the server's socket saw SNI (ztunnel sends none). */
  readonly servernames: (string | false | null)[];
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** An echo-my-identity server: replies with the client's verified identity, or drops the connection. */
function onSecure(socket: tls.TLSSocket, certificate: WorkloadCertificate, state: TestServer): void {
  socket.on('error', () => undefined);
  let identity: Identity;
  try {
    identity = verifyClientIdentity(socket, certificate.identity.trustDomain);
  } catch (err) {
    state.failures.emit('failure', err as Error);
    socket.destroy();
    return;
  }
  state.accepted.push(formatIdentity(identity));
  state.servernames.push(socket.servername);
  socket.end(`${formatIdentity(identity)} ${String(socket.alpnProtocol)}`);
}

function newState(port: number): TestServer {
  return { port, accepted: [], failures: new EventEmitter(), servernames: [] };
}

/** A `tls.Server`, which builds its own context from the key/cert/ca in the options. */
async function startTlsServer(certificate: WorkloadCertificate): Promise<TestServer> {
  const server = tls.createServer(serverTlsOptions(certificate));
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  const state = newState((server.address() as AddressInfo).port);
  server.on('secureConnection', (socket) => {
    onSecure(socket, certificate, state);
  });
  // A client chain that fails verification surfaces as a bare "socket hang up": tls.Server
  // destroys the socket after the handshake and leaves the reason in authorizationError.
  server.on('tlsClientError', (err, socket) => {
    // Typed as always present, but undefined unless the chain check ran and failed.
    const authorizationError = socket.authorizationError as Error | string | undefined;
    const reason = authorizationError === undefined ? '' : ` (${errorMessage(authorizationError)})`;
    state.failures.emit('failure', new Error(`${err.message}${reason}`, { cause: err }));
  });
  closers.push(() => closeServer(server));
  tlsServers.set(state, server);
  return state;
}

const tlsServers = new WeakMap<TestServer, tls.Server>();

/**
 * Raw TCP sockets handed to a `tls.Server` with `emit('connection')`, as an in-pod listener that
 * receives sockets from elsewhere would.
 */
async function startHandOffServer(certificate: WorkloadCertificate): Promise<TestServer> {
  const state = await startTlsServer(certificate);
  const tlsServer = tlsServers.get(state);
  if (tlsServer === undefined) throw new Error('unreachable');
  const tcp = createTcpServer((raw) => {
    tlsServer.emit('connection', raw);
  });
  tcp.listen(0, LOOPBACK);
  await once(tcp, 'listening');
  closers.push(() => closeServer(tcp));
  return { ...state, port: (tcp.address() as AddressInfo).port };
}

async function closeServer(server: TcpServer): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

interface DialResult {
  /** What the server replied: the identity it verified for us, and the ALPN it saw. */
  readonly reply: string;
  readonly alpnProtocol: string | false | null;
  readonly protocol: string | null;
  readonly serverIdentity: Identity | undefined;
  readonly reused: boolean;
  readonly session: Buffer | undefined;
}

/**
 * Connects and reads until the server closes. A TLS 1.3 client finishes its handshake before the
 * server has checked the client certificate, so success means a reply, not `secureConnect`.
 */
function dial(port: number, options: ConnectionOptions): Promise<DialResult> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...options, host: LOOPBACK, port });
    let reply = '';
    let session: Buffer | undefined;
    let connected: Omit<DialResult, 'reply' | 'session'> | undefined;
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => {
      connected = {
        alpnProtocol: socket.alpnProtocol,
        protocol: socket.getProtocol(),
        serverIdentity: peerIdentity(socket),
        reused: socket.isSessionReused(),
      };
    });
    socket.on('session', (ticket: Buffer) => {
      session = ticket;
    });
    socket.on('data', (chunk: string) => {
      reply += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (connected !== undefined && reply !== '') resolve({ ...connected, reply, session });
      else reject(new Error('the server closed the connection without a reply'));
    });
  });
}

async function workload(
  pki: TestPki,
  serviceAccount: string,
  rootsPem?: string,
): Promise<WorkloadCertificate> {
  const issued = await pki.issue({ identity: { namespace: 'default', serviceAccount } });
  return WorkloadCertificate.fromPem(rootsPem === undefined ? issued : { ...issued, rootsPem });
}

describe('HBONE mutual TLS', () => {
  let pki: TestPki;
  let serverCert: WorkloadCertificate;
  let clientCert: WorkloadCertificate;
  beforeAll(async () => {
    pki = await TestPki.create();
    serverCert = await workload(pki, 'server');
    clientCert = await workload(pki, 'client');
  });

  it.each([
    ['tls.Server', startTlsServer],
    ['sockets handed to a tls.Server', startHandOffServer],
  ])('authenticates both ends with %s: TLS 1.3, ALPN h2, no SNI', async (_kind, start) => {
    const server = await start(serverCert);
    const result = await dial(server.port, clientTlsOptions(clientCert, [SERVER_ID]));
    expect(result.reply).toBe(`${CLIENT_ID} ${HBONE_ALPN}`);
    expect(server.accepted).toEqual([CLIENT_ID]);
    expect(result.serverIdentity).toEqual({
      trustDomain: 'cluster.local',
      namespace: 'default',
      serviceAccount: 'server',
    });
    expect(result.alpnProtocol).toBe('h2');
    expect(result.protocol).toBe('TLSv1.3');
    expect(server.servernames).toEqual([false]);
  });

  it('accepts the server when any of its URI SANs is any expected identity', async () => {
    const issued = await pki.issue({
      identity: { namespace: 'default', serviceAccount: 'server' },
      extraUris: ['spiffe://cluster.local/ns/default/sa/alias'],
    });
    const server = await startTlsServer(WorkloadCertificate.fromPem(issued));
    const expected = [
      'spiffe://cluster.local/ns/other/sa/nope',
      'spiffe://cluster.local/ns/default/sa/alias',
    ];
    const result = await dial(server.port, clientTlsOptions(clientCert, expected));
    expect(result.reply).toBe(`${CLIENT_ID} h2`);
  });

  it('fails the client when the server does not present an expected SAN', async () => {
    const server = await startTlsServer(serverCert);
    const expected = ['spiffe://cluster.local/ns/default/sa/somebody-else'];
    const failure = dial(server.port, clientTlsOptions(clientCert, expected));
    await expect(failure).rejects.toThrow(EXPECTED_SAN_MISMATCH);
    await expect(failure).rejects.toSatisfy((err) => isMeshError(err, ErrorCode.IdentityMismatch));
    await expect(failure).rejects.toThrow(SERVER_ID);
    await expect(failure).rejects.toThrow(expected[0]);
    expect(server.accepted).toEqual([]);
  });

  it('accepts nobody when no identity is expected', async () => {
    const server = await startTlsServer(serverCert);
    await expect(dial(server.port, clientTlsOptions(clientCert, []))).rejects.toThrow(EXPECTED_SAN_MISMATCH);
  });

  it('fails the handshake when the client presents no certificate', async () => {
    const server = await startTlsServer(serverCert);
    const serverFailure = once(server.failures, 'failure');
    const anonymous: ConnectionOptions = {
      ca: serverCert.rootsPem,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    };
    await expect(dial(server.port, anonymous)).rejects.toThrow();
    const [error] = (await serverFailure) as [Error];
    expect(error.message).toMatch(/certificate/i);
    expect(server.accepted).toEqual([]);
  });

  it('rejects a client of another trust domain even when its root is trusted', async () => {
    const otherPki = await TestPki.create({ trustDomain: 'other.domain' });
    const bothRoots = pki.rootCertPem + otherPki.rootCertPem;
    const server = await startTlsServer(await workload(pki, 'server', bothRoots));
    const foreignClient = await workload(otherPki, 'client', bothRoots);
    const serverFailure = once(server.failures, 'failure');
    await expect(dial(server.port, clientTlsOptions(foreignClient, [SERVER_ID]))).rejects.toThrow();
    const [error] = (await serverFailure) as [Error];
    expect(isMeshError(error, ErrorCode.IdentityMismatch)).toBe(true);
    expect(error.message).toContain('other.domain');
    expect(server.accepted).toEqual([]);
  });

  it('rejects a client whose certificate has no SPIFFE identity', async () => {
    const server = await startTlsServer(serverCert);
    const issued = await pki.issue({
      identity: { namespace: 'default', serviceAccount: 'client' },
      omitSpiffeSan: true,
      extraUris: ['spiffe://cluster.local/ns/default'],
    });
    // WorkloadCertificate refuses such a leaf, so offer it with plain options.
    const serverFailure = once(server.failures, 'failure');
    const options: ConnectionOptions = {
      cert: issued.certChainPem,
      key: issued.keyPem,
      ca: issued.rootsPem,
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
    };
    await expect(dial(server.port, options)).rejects.toThrow();
    const [error] = (await serverFailure) as [Error];
    expect(isMeshError(error, ErrorCode.IdentityMismatch)).toBe(true);
  });

  it('fails when the server chain is not from our roots', async () => {
    const stranger = await TestPki.create();
    const server = await startTlsServer(await workload(stranger, 'server'));
    const failure = dial(server.port, clientTlsOptions(clientCert, [SERVER_ID]));
    await expect(failure).rejects.toMatchObject({ code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
  });

  it('fails when the client chain is not from our roots', async () => {
    const stranger = await TestPki.create();
    // The client trusts our server, but its own certificate comes from a CA the server does not know.
    const client = await workload(stranger, 'client', pki.rootCertPem);
    const server = await startTlsServer(serverCert);
    const serverFailure = once(server.failures, 'failure');
    await expect(dial(server.port, clientTlsOptions(client, [SERVER_ID]))).rejects.toThrow();
    const [error] = (await serverFailure) as [Error];
    expect(error.message).toContain('UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    expect(server.accepted).toEqual([]);
  });

  it('fails when the server certificate has expired', async () => {
    const issued = await pki.issue({
      identity: { namespace: 'default', serviceAccount: 'server' },
      notBefore: new Date(Date.now() - 48 * 3_600_000),
      notAfter: new Date(Date.now() - 24 * 3_600_000),
    });
    const server = await startTlsServer(WorkloadCertificate.fromPem(issued));
    const failure = dial(server.port, clientTlsOptions(clientCert, [SERVER_ID]));
    await expect(failure).rejects.toMatchObject({ code: 'CERT_HAS_EXPIRED' });
  });

  it('fails when the client certificate has expired', async () => {
    const issued = await pki.issue({
      identity: { namespace: 'default', serviceAccount: 'client' },
      notBefore: new Date(Date.now() - 48 * 3_600_000),
      notAfter: new Date(Date.now() - 24 * 3_600_000),
    });
    const server = await startTlsServer(serverCert);
    const serverFailure = once(server.failures, 'failure');
    await expect(
      dial(server.port, clientTlsOptions(WorkloadCertificate.fromPem(issued), [SERVER_ID])),
    ).rejects.toThrow();
    const [error] = (await serverFailure) as [Error];
    expect(error.message).toContain('CERT_HAS_EXPIRED');
    expect(server.accepted).toEqual([]);
  });

  it('refuses a client that offers only TLS 1.2', async () => {
    const server = await startTlsServer(serverCert);
    const serverFailure = once(server.failures, 'failure');
    const issued = await pki.issue({ identity: { namespace: 'default', serviceAccount: 'client' } });
    // A context of its own: clientTlsOptions' prebuilt one allows TLS 1.3 only.
    const legacy: ConnectionOptions = {
      cert: issued.certChainPem,
      key: issued.keyPem,
      ca: issued.rootsPem,
      maxVersion: 'TLSv1.2',
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    };
    await expect(dial(server.port, legacy)).rejects.toThrow(/protocol version/i);
    const [error] = (await serverFailure) as [Error];
    expect(error.message).toMatch(/unsupported protocol/i);
  });

  it('never resumes a session, so every connection is checked in full', async () => {
    const server = await startTlsServer(serverCert);
    const first = await dial(server.port, clientTlsOptions(clientCert, [SERVER_ID]));
    expect(first.reused).toBe(false);
    // The server did hand out a session; offering it back must not skip the handshake.
    expect(first.session).toBeInstanceOf(Buffer);
    const offered = first.session ?? Buffer.alloc(0);
    const second = await dial(server.port, {
      ...clientTlsOptions(clientCert, [SERVER_ID]),
      session: offered,
    });
    expect(second.reused).toBe(false);
    expect(second.serverIdentity?.serviceAccount).toBe('server');
    expect(server.accepted).toEqual([CLIENT_ID, CLIENT_ID]);

    // And a mismatching SAN still fails on the connection that offers the session.
    const third = dial(server.port, {
      ...clientTlsOptions(clientCert, ['spiffe://cluster.local/ns/default/sa/somebody-else']),
      session: offered,
    });
    await expect(third).rejects.toThrow(EXPECTED_SAN_MISMATCH);
  });
});

describe('verifyClientIdentity and peerIdentity', () => {
  it('refuse a socket whose peer certificate was not verified', async () => {
    const pki = await TestPki.create();
    const serverCert = await workload(pki, 'server');
    // A server that does not check client certificates, to get an unverified peer.
    const server = tls.createServer({ ...serverTlsOptions(serverCert), rejectUnauthorized: false });
    const seen = new Promise<{ identity: Identity | undefined; error: unknown }>((resolve) => {
      server.on('secureConnection', (socket) => {
        socket.on('error', () => undefined);
        let error: unknown;
        try {
          verifyClientIdentity(socket, 'cluster.local');
        } catch (err) {
          error = err;
        }
        resolve({ identity: peerIdentity(socket), error });
        socket.end('done');
      });
    });
    server.listen(0, LOOPBACK);
    await once(server, 'listening');
    closers.push(() => closeServer(server));

    const stranger = await TestPki.create();
    const client = await workload(stranger, 'client', pki.rootCertPem);
    await dial((server.address() as AddressInfo).port, clientTlsOptions(client, [SERVER_ID]));
    const { identity, error } = await seen;
    expect(identity).toBeUndefined();
    expect(isMeshError(error, ErrorCode.IdentityMismatch)).toBe(true);
  });
});

describe('a bare TLSSocket server', () => {
  it('fails closed: Node verifies client chains only inside tls.Server, so nothing is authorized', async () => {
    const pki = await TestPki.create();
    const serverCert = await workload(pki, 'server');
    const client = await workload(pki, 'client');
    let outcome: { identity: Identity | undefined; error: unknown } | undefined;
    const server = createTcpServer((raw) => {
      const socket = new tls.TLSSocket(raw, { isServer: true, ...serverTlsOptions(serverCert) });
      socket.on('error', () => undefined);
      socket.on('secure', () => {
        let error: unknown;
        try {
          verifyClientIdentity(socket, 'cluster.local');
        } catch (err) {
          error = err;
        }
        outcome = { identity: peerIdentity(socket), error };
        socket.end('done');
      });
    });
    server.listen(0, LOOPBACK);
    await once(server, 'listening');
    closers.push(() => closeServer(server));

    const result = await dial((server.address() as AddressInfo).port, clientTlsOptions(client, [SERVER_ID]));
    expect(result.reply).toBe('done');
    expect(outcome?.identity).toBeUndefined();
    expect(isMeshError(outcome?.error, ErrorCode.IdentityMismatch)).toBe(true);
  });
});
