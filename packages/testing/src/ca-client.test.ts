// @ambient/identity's CaClient against a real CA over gRPC and TLS on loopback. It lives here
// because identity cannot depend on @ambient/testing (which depends on it).
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, isMeshError } from '@ambient/core';
import { CaClient, WorkloadCertificate, type CaClientOptions } from '@ambient/identity';
import { TestCaServer } from './csr-signer.js';
import { TestPki } from './pki.js';

const IDENTITY = 'spiffe://cluster.local/ns/default/sa/echo';
const OTHER_IDENTITY = 'spiffe://cluster.local/ns/default/sa/intruder';
const DAY_SECONDS = 86_400;

let pki: TestPki;
let server: TestCaServer;
let dir: string;
const clients: CaClient[] = [];

beforeAll(async () => {
  pki = await TestPki.create();
  server = await TestCaServer.start({ pki });
});

afterAll(() => {
  server.close();
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ca-client-'));
  server.behaviour = {};
  server.requests.length = 0;
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await rm(dir, { recursive: true, force: true });
});

function client(options: Partial<CaClientOptions> = {}): CaClient {
  const created = new CaClient({
    address: server.address,
    rootCertPem: server.rootCertPem,
    impersonate: true,
    ...options,
  });
  clients.push(created);
  return created;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (err: unknown) => err,
  );
}

describe('CaClient.fetchCertificate', () => {
  it('returns a usable certificate for the identity, valid for the TTL asked', async () => {
    const material = await client().fetchCertificate(IDENTITY, DAY_SECONDS);
    const certificate = WorkloadCertificate.fromPem(material);
    expect(certificate.identityUri).toBe(IDENTITY);
    expect(certificate.notAfter.getTime() - certificate.notBefore.getTime()).toBe(DAY_SECONDS * 1000);
    expect(material.rootsPem).toBe(pki.rootCertPem);
    // Leaf then intermediate; the root stays out of the chain.
    const chain = material.certChainPem.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    expect(chain).toHaveLength(2);
    expect(material.certChainPem).not.toContain(pki.rootCertPem.trim());
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.validityDuration).toBe(DAY_SECONDS);
    expect(server.requests[0]?.csrIdentity).toBe(IDENTITY);
  });

  it('sends a new key every time', async () => {
    const ca = client();
    const first = await ca.fetchCertificate(IDENTITY, DAY_SECONDS);
    const second = await ca.fetchCertificate(IDENTITY, DAY_SECONDS);
    expect(first.keyPem).not.toBe(second.keyPem);
    const leafKey = (pem: string) =>
      new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
    expect(leafKey(first.certChainPem)).not.toBe(leafKey(second.certChainPem));
  });

  it('sends the bearer token, re-reading the file for every request, and the cluster id', async () => {
    const tokenPath = join(dir, 'istio-token');
    await writeFile(tokenPath, 'first-token\n');
    const ca = client({ tokenPath, clusterId: 'Kubernetes', extraHeaders: { 'x-extra': 'yes' } });
    await ca.fetchCertificate(IDENTITY, DAY_SECONDS);
    await writeFile(tokenPath, 'second-token');
    await ca.fetchCertificate(IDENTITY, DAY_SECONDS);
    expect(server.requests.map((request) => request.headers.authorization)).toEqual([
      'Bearer first-token',
      'Bearer second-token',
    ]);
    expect(server.requests[0]?.headers.clusterid).toBe('Kubernetes');
    expect(server.requests[0]?.headers['x-extra']).toBe('yes');
  });

  it('sends no authorization header without a token file', async () => {
    await client().fetchCertificate(IDENTITY, DAY_SECONDS);
    expect(server.requests[0]?.headers).not.toHaveProperty('authorization');
    expect(server.requests[0]?.headers).not.toHaveProperty('clusterid');
  });

  it('fails without asking the CA when the token file cannot be read', async () => {
    const err = await failure(
      client({ tokenPath: join(dir, 'missing') }).fetchCertificate(IDENTITY, DAY_SECONDS),
    );
    expect(isMeshError(err, ErrorCode.CaRequestFailed)).toBe(true);
    expect(String(err)).toContain(join(dir, 'missing'));
    expect(server.requests).toHaveLength(0);
  });

  it('names the identity in ImpersonatedIdentity when impersonating, and sends no metadata otherwise', async () => {
    await client({ impersonate: true }).fetchCertificate(IDENTITY, DAY_SECONDS);
    await client({ impersonate: false }).fetchCertificate(IDENTITY, DAY_SECONDS);
    expect(server.requests.map((request) => request.metadata)).toEqual([
      { ImpersonatedIdentity: IDENTITY },
      undefined,
    ]);
  });

  it.each([true, false])(
    'rejects a certificate issued for another identity (impersonate: %s)',
    async (impersonate) => {
      server.behaviour = { issueFor: OTHER_IDENTITY };
      const err = await failure(client({ impersonate }).fetchCertificate(IDENTITY, DAY_SECONDS));
      expect(isMeshError(err, ErrorCode.CaRequestFailed)).toBe(true);
      expect(String(err)).toContain(OTHER_IDENTITY);
    },
  );

  it('takes every root of a last element that holds several', async () => {
    const otherPki = await TestPki.create();
    server.behaviour = {
      rewriteChain: (chain) => [...chain.slice(0, -1), `${chain.at(-1) ?? ''}${otherPki.rootCertPem}`],
    };
    const material = await client().fetchCertificate(IDENTITY, DAY_SECONDS);
    expect(material.rootsPem).toBe(pki.rootCertPem + otherPki.rootCertPem);
    expect(WorkloadCertificate.fromPem(material).identityUri).toBe(IDENTITY);
  });

  it.each([
    ['an empty chain', (): string[] => []],
    ['a leaf without roots', (chain: string[]): string[] => chain.slice(0, 1)],
    ['text that is no certificate', (chain: string[]): string[] => ['garbage', ...chain.slice(1)]],
  ])('rejects %s', async (_what, rewriteChain) => {
    server.behaviour = { rewriteChain };
    const err = await failure(client().fetchCertificate(IDENTITY, DAY_SECONDS));
    expect(isMeshError(err, ErrorCode.CaRequestFailed)).toBe(true);
  });

  it('reports the gRPC status of a refusal', async () => {
    server.behaviour = { failure: { code: status.PERMISSION_DENIED, message: 'not on this node' } };
    const err = await failure(client().fetchCertificate(IDENTITY, DAY_SECONDS));
    expect(isMeshError(err, ErrorCode.CaRequestFailed)).toBe(true);
    expect(String(err)).toContain('PERMISSION_DENIED');
    expect(String(err)).toContain('not on this node');
  });

  it('gives up on a CA that does not answer before the deadline', async () => {
    server.behaviour = { delayMs: 1_000 };
    const err = await failure(client({ requestTimeoutMs: 50 }).fetchCertificate(IDENTITY, DAY_SECONDS));
    expect(isMeshError(err, ErrorCode.CaRequestFailed)).toBe(true);
    expect(String(err)).toContain('DEADLINE_EXCEEDED');
  });

  it('refuses a CA whose certificate does not carry the expected name', async () => {
    const err = await failure(client({ serverName: 'not-istiod.example' }).fetchCertificate(IDENTITY, 60));
    expect(isMeshError(err, ErrorCode.CaRequestFailed)).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a CA whose certificate chains to other roots', async () => {
    const otherPki = await TestPki.create();
    const err = await failure(client({ rootCertPem: otherPki.rootCertPem }).fetchCertificate(IDENTITY, 60));
    expect(isMeshError(err, ErrorCode.CaRequestFailed)).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a malformed identity before any request', async () => {
    const err = await failure(client().fetchCertificate('spiffe://cluster.local/ns/default', 60));
    expect(isMeshError(err, ErrorCode.IdentityInvalid)).toBe(true);
    expect(server.requests).toHaveLength(0);
  });
});
