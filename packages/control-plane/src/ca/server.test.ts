import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { status } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listenOn } from '@ambient/core';
import { CertificateAuthority, MAX_WORKLOAD_CERT_TTL_SECONDS } from './authority.js';
import { StaticTokenAuthenticator, type StaticToken } from './authn.js';
import { startCaServer } from './server.js';
import { loadOrCreateSelfSigned, loadSigningMaterial, type SigningMaterial } from './signing-material.js';
import { splitPemCertificates } from './pem.js';
import {
  collectingLogger,
  fixedWorkloads,
  makeCertificate,
  makeCsr,
  requestCertificate,
  spiffeId,
  startTestCa,
  writeOperatorPki,
  type OperatorPki,
  type RunningCa,
} from './test-fixtures.js';

const SLEEP = spiffeId('default', 'sleep');
const ECHO = spiffeId('default', 'echo');
const DAY_SECONDS = 86_400;

const TOKENS: readonly StaticToken[] = [
  { token: 't-ztunnel-a', kind: 'node', node: 'node-a', name: 'ztunnel-a' },
  { token: 't-sleep', kind: 'workload', identity: SLEEP, name: 'sleep' },
];
const WORKLOADS = fixedWorkloads({ 'node-a': [SLEEP], 'node-b': [ECHO] });

let dir: string;
let material: SigningMaterial;
let running: RunningCa;
let rootPem: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ca-server-'));
  material = await loadOrCreateSelfSigned(join(dir, 'state'));
  rootPem = material.caCertPem;
  running = await startTestCa({ material, tokens: TOKENS, workloads: WORKLOADS, host: '127.27.0.1' });
});

afterAll(async () => {
  await running.server.close();
  await rm(dir, { recursive: true, force: true });
});

function chainOf(result: Awaited<ReturnType<typeof requestCertificate>>): string[] {
  if (!result.ok) throw new Error(`refused: ${result.error.message}`);
  return result.certChain;
}

describe('CreateCertificate over gRPC and TLS', () => {
  it('signs a workload CSR: the leaf verifies against the root, SAN, usages and lifetime as asked', async () => {
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const chain = chainOf(
      await requestCertificate(running.target, rootPem, {
        csr: csrPem,
        validityDuration: 3600,
        token: 't-sleep',
      }),
    );
    expect(chain).toHaveLength(2);
    const leaf = new X509Certificate(chain[0] ?? '');
    const root = new X509Certificate(chain[1] ?? '');
    expect(root.fingerprint256).toBe(material.caCert.fingerprint256);
    expect(leaf.checkIssued(root)).toBe(true);
    expect(leaf.verify(root.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe(`URI:${SLEEP}`);
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(leaf.ca).toBe(false);
    expect((leaf.validToDate.getTime() - leaf.validFromDate.getTime()) / 1000).toBe(3600 + 60);
    expect(running.lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        message: 'certificate issued',
        caller: 'sleep',
        identity: SLEEP,
      }),
    );
  });

  it('signs for a node agent impersonating a workload on its node', async () => {
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const chain = chainOf(
      await requestCertificate(running.target, rootPem, {
        csr: csrPem,
        validityDuration: DAY_SECONDS,
        token: 't-ztunnel-a',
        impersonate: SLEEP,
      }),
    );
    expect(new X509Certificate(chain[0] ?? '').subjectAltName).toBe(`URI:${SLEEP}`);
  });

  const refusals: [
    string,
    { token?: string; impersonate?: string; uri?: string; csr?: string; ttl?: number },
    status,
    RegExp,
  ][] = [
    ['no token', {}, status.UNAUTHENTICATED, /no "authorization: Bearer <token>" metadata/],
    ['a wrong token', { token: 't-nobody' }, status.UNAUTHENTICATED, /bearer token is not valid/],
    [
      'a node agent asking for a workload on another node',
      { token: 't-ztunnel-a', impersonate: ECHO, uri: ECHO },
      status.PERMISSION_DENIED,
      /no workload with identity spiffe:\/\/cluster\.local\/ns\/default\/sa\/echo runs on node node-a/,
    ],
    [
      'a node agent naming no identity',
      { token: 't-ztunnel-a' },
      status.PERMISSION_DENIED,
      /must name the identity it asks for/,
    ],
    [
      'a workload asking for another identity',
      { token: 't-sleep', impersonate: ECHO, uri: ECHO },
      status.PERMISSION_DENIED,
      /a workload may only get its own identity/,
    ],
    [
      'an ImpersonatedIdentity that is no SPIFFE id',
      { token: 't-ztunnel-a', impersonate: 'sleep' },
      status.INVALID_ARGUMENT,
      /ImpersonatedIdentity must be a SPIFFE workload id/,
    ],
    [
      'a CSR whose SAN differs from the identity',
      { token: 't-sleep', uri: ECHO },
      status.INVALID_ARGUMENT,
      /the CSR asks for "spiffe:\/\/cluster\.local\/ns\/default\/sa\/echo" but the certificate is for/,
    ],
    ['a malformed CSR', { token: 't-sleep', csr: 'not a csr' }, status.INVALID_ARGUMENT, /not one PEM/],
    ['a zero lifetime', { token: 't-sleep', ttl: 0 }, status.INVALID_ARGUMENT, /requested lifetime 0 s/],
    [
      'a negative lifetime',
      { token: 't-sleep', ttl: -3600 },
      status.INVALID_ARGUMENT,
      /requested lifetime -3600 s/,
    ],
    [
      'a lifetime above the maximum',
      { token: 't-sleep', ttl: MAX_WORKLOAD_CERT_TTL_SECONDS + 1 },
      status.INVALID_ARGUMENT,
      /is not in \(0, 7776000\] s/,
    ],
  ];
  it.each(refusals)('refuses %s', async (_name, request, code, reason) => {
    const csr = request.csr ?? (await makeCsr({ uris: [request.uri ?? SLEEP] })).csrPem;
    const result = await requestCertificate(running.target, rootPem, {
      csr,
      validityDuration: request.ttl ?? DAY_SECONDS,
      ...(request.token === undefined ? {} : { token: request.token }),
      ...(request.impersonate === undefined ? {} : { impersonate: request.impersonate }),
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(code);
    expect(result.error.details).toMatch(reason);
    // One warn line naming the caller and the reason.
    const warning = running.lines.findLast((line) => line.message === 'certificate request refused');
    expect(warning).toMatchObject({ level: 'warn', code: status[code] });
    expect(warning?.caller).toBe(
      TOKENS.find((token) => token.token === request.token)?.name ?? 'unauthenticated',
    );
    expect(String(warning?.reason)).toMatch(reason);
  });

  it('answers UNAVAILABLE when authentication itself fails', async () => {
    const { logger } = collectingLogger();
    const server = await startCaServer({
      host: '127.27.0.2',
      port: 0,
      authority: running.authority,
      authenticator: { authenticate: () => Promise.reject(new Error('API server down')) },
      workloads: WORKLOADS,
      logger,
    });
    try {
      const { csrPem } = await makeCsr({ uris: [SLEEP] });
      const result = await requestCertificate(`127.27.0.2:${String(server.port)}`, rootPem, {
        csr: csrPem,
        validityDuration: DAY_SECONDS,
        token: 't-sleep',
      });
      expect(result.ok ? 'issued' : result.error.code).toBe(status.UNAVAILABLE);
    } finally {
      await server.close();
    }
  });

  it("counts requests, issuances and refusals in istiod's citadel_server_* counters", async () => {
    const registry = new Registry();
    const { logger } = collectingLogger();
    const server = await startCaServer({
      host: '127.27.0.6',
      port: 0,
      authority: running.authority,
      authenticator: new StaticTokenAuthenticator(TOKENS),
      workloads: WORKLOADS,
      logger,
      registry,
    });
    try {
      const target = `127.27.0.6:${String(server.port)}`;
      const { csrPem } = await makeCsr({ uris: [SLEEP] });
      await requestCertificate(target, rootPem, {
        csr: csrPem,
        validityDuration: DAY_SECONDS,
        token: 't-sleep',
      });
      await requestCertificate(target, rootPem, {
        csr: csrPem,
        validityDuration: DAY_SECONDS,
        token: 'wrong',
      });
      await requestCertificate(target, rootPem, {
        csr: 'junk',
        validityDuration: DAY_SECONDS,
        token: 't-sleep',
      });
      await requestCertificate(target, rootPem, { csr: csrPem, validityDuration: 0, token: 't-sleep' });
      const text = await registry.metrics();
      expect(text).toContain('citadel_server_csr_count 4');
      expect(text).toContain('citadel_server_success_cert_issuance_count 1');
      expect(text).toContain('citadel_server_authentication_failure_count 1');
      expect(text).toContain('citadel_server_csr_parsing_err_count 1');
      expect(text).toContain('citadel_server_csr_sign_err_count{error_type="ttl-invalid"} 1');
    } finally {
      await server.close();
    }
  });

  it('serves a certificate for istiod.istio-system.svc and its IP that clients of another root refuse', async () => {
    const serving = new X509Certificate(splitPemCertificates(running.server.serverCertChainPem)[0] ?? '');
    expect(serving.subjectAltName).toBe('DNS:istiod.istio-system.svc, IP Address:127.27.0.1');
    const stranger = await makeCertificate({ commonName: 'Stranger Root' });
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const result = await requestCertificate(running.target, stranger.pem, {
      csr: csrPem,
      validityDuration: DAY_SECONDS,
      token: 't-sleep',
    });
    expect(result.ok ? 'issued' : result.error.code).toBe(status.UNAVAILABLE);
  });
});

describe('an operator plug-in CA', () => {
  let operator: OperatorPki;
  let plugged: RunningCa;

  beforeAll(async () => {
    operator = await writeOperatorPki(join(dir, 'cacerts'));
    plugged = await startTestCa({
      material: await loadSigningMaterial(join(dir, 'cacerts')),
      tokens: TOKENS,
      host: '127.27.0.3',
    });
  });

  afterAll(async () => {
    await plugged.server.close();
  });

  it("issues chains a TLS client trusting only the operator's root accepts", async () => {
    const { csrPem, keyPem } = await makeCsr({ uris: [SLEEP] });
    const chain = chainOf(
      await requestCertificate(plugged.target, operator.root.pem, {
        csr: csrPem,
        validityDuration: DAY_SECONDS,
        token: 't-sleep',
      }),
    );
    expect(chain).toEqual([expect.any(String), operator.intermediate.pem, operator.root.pem]);

    // The workload presents leaf + intermediate, exactly as ztunnel does; the peer holds the root alone.
    const server = createServer(
      { cert: chain.slice(0, -1).join(''), key: keyPem, minVersion: 'TLSv1.3' },
      (socket) => {
        socket.end('hello');
      },
    );
    await listenOn(server, '127.27.0.4', 0, 'workload');
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const peer = await new Promise<{ authorized: boolean; san: string | undefined }>((resolve, reject) => {
        const socket: TLSSocket = connect({
          host: '127.27.0.4',
          port,
          ca: operator.root.pem,
          checkServerIdentity: () => undefined,
        });
        socket.once('secureConnect', () => {
          resolve({ authorized: socket.authorized, san: socket.getPeerX509Certificate()?.subjectAltName });
          socket.destroy();
        });
        socket.once('error', reject);
      });
      expect(peer).toEqual({ authorized: true, san: `URI:${SLEEP}` });
    } finally {
      await closeServer(server);
    }
  });
});

describe('the self-signed root on disk', () => {
  it('is shared by two CA instances on the same state folder', async () => {
    const stateDir = join(dir, 'shared-state');
    const first = await CertificateAuthority.create(await loadOrCreateSelfSigned(stateDir));
    const second = await CertificateAuthority.create(await loadOrCreateSelfSigned(stateDir));
    expect(second.trustBundle).toBe(first.trustBundle);
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const result = await first.sign(csrPem, SLEEP, DAY_SECONDS);
    const leaf = new X509Certificate(result.ok ? (result.certChain[0] ?? '') : '');
    expect(leaf.verify(new X509Certificate(second.trustBundle).publicKey)).toBe(true);
  });
});

describe('root rotation over the wire', () => {
  it('sends both roots once a new one is trusted, and still signs with the old one', async () => {
    const next = await makeCertificate({ commonName: 'Next Root' });
    const rotating = await startTestCa({ material, tokens: TOKENS, host: '127.27.0.5' });
    try {
      rotating.authority.addTrustedRoot(next.pem);
      const { csrPem } = await makeCsr({ uris: [SLEEP] });
      const chain = chainOf(
        await requestCertificate(rotating.target, rootPem, {
          csr: csrPem,
          validityDuration: DAY_SECONDS,
          token: 't-sleep',
        }),
      );
      expect(chain).toHaveLength(2);
      expect(splitPemCertificates(chain[1] ?? '')).toEqual([rootPem, next.pem]);
      expect(new X509Certificate(chain[0] ?? '').verify(material.caCert.publicKey)).toBe(true);
    } finally {
      await rotating.server.close();
    }
  });
});
