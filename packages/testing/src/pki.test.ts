import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CertificateDirectory, urisFromSubjectAltName } from '@ambient/identity';
import { TestPki } from './pki.js';
import { x509 } from './pki-x509.js';

const HOUR_MS = 3_600_000;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g;
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const runFile = promisify(execFile);

function certificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERTIFICATE) ?? []).map((block) => new X509Certificate(block));
}

function only<T>(items: readonly T[]): T {
  expect(items).toHaveLength(1);
  const [item] = items;
  if (item === undefined) throw new Error('unreachable');
  return item;
}

function keyUsages(certificate: X509Certificate): number | undefined {
  return new x509.X509Certificate(certificate.raw).getExtension(x509.KeyUsagesExtension)?.usages;
}

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

describe('TestPki', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await TestPki.create();
  });

  it('issues a leaf like istiod does: SPIFFE URI SAN, not a CA, server and client auth', async () => {
    const issued = await pki.issue({ identity: { namespace: 'default', serviceAccount: 'echo' } });
    const [leaf, intermediate, ...rest] = certificates(issued.certChainPem);
    if (leaf === undefined || intermediate === undefined)
      throw new Error('chain should hold two certificates');
    expect(rest).toEqual([]);
    expect(issued.certPem).toBe(leaf.toString());
    expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/default/sa/echo');
    // Node reports an empty subject as undefined, whatever its types say.
    expect([undefined, '']).toContain(leaf.subject);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
    expect(keyUsages(leaf)).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    expect(leaf.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(createPrivateKey(issued.keyPem).asymmetricKeyType).toBe('ec');
    expect(issued.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/); // PKCS#8
    expect(leaf.checkPrivateKey(createPrivateKey(issued.keyPem))).toBe(true);
  });

  it('chains leaf -> intermediate -> root, each CA marked for signing certificates and CRLs', async () => {
    const issued = await pki.issue({ identity: { namespace: 'default', serviceAccount: 'echo' } });
    const [leaf, intermediate] = certificates(issued.certChainPem);
    const root = only(certificates(issued.rootsPem));
    if (leaf === undefined || intermediate === undefined)
      throw new Error('chain should hold two certificates');
    expect(issued.rootsPem).toBe(pki.rootCertPem);
    expect(leaf.checkIssued(intermediate)).toBe(true);
    expect(leaf.verify(intermediate.publicKey)).toBe(true);
    expect(intermediate.checkIssued(root)).toBe(true);
    expect(intermediate.verify(root.publicKey)).toBe(true);
    expect(root.verify(root.publicKey)).toBe(true);
    for (const ca of [intermediate, root]) {
      expect(ca.ca).toBe(true);
      expect(keyUsages(ca)).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    }
  });

  it('without an intermediate, the root signs leaves and the chain is the leaf alone', async () => {
    const flat = await TestPki.create({ intermediate: false, trustDomain: 'example.org' });
    const issued = await flat.issue({ identity: { namespace: 'a', serviceAccount: 'b' } });
    const leaf = only(certificates(issued.certChainPem));
    const root = only(certificates(issued.rootsPem));
    expect(leaf.verify(root.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('URI:spiffe://example.org/ns/a/sa/b');
  });

  it('defaults validity to an hour ago until a day from now, and takes explicit dates', async () => {
    const before = Date.now();
    const issued = await pki.issue({ identity: { namespace: 'default', serviceAccount: 'echo' } });
    const after = Date.now();
    const leaf = only(certificates(issued.certPem));
    // X.509 times have one-second resolution.
    expect(leaf.validFromDate.getTime()).toBeGreaterThanOrEqual(before - HOUR_MS - 1000);
    expect(leaf.validFromDate.getTime()).toBeLessThanOrEqual(after - HOUR_MS);
    expect(leaf.validToDate.getTime()).toBeGreaterThanOrEqual(before + 24 * HOUR_MS - 1000);
    expect(leaf.validToDate.getTime()).toBeLessThanOrEqual(after + 24 * HOUR_MS);

    const notBefore = new Date('2020-01-01T00:00:00Z');
    const notAfter = new Date('2020-01-02T00:00:00Z');
    const expired = only(
      certificates(
        (await pki.issue({ identity: 'spiffe://cluster.local/ns/a/sa/b', notBefore, notAfter })).certPem,
      ),
    );
    expect(expired.validFromDate).toEqual(notBefore);
    expect(expired.validToDate).toEqual(notAfter);
  });

  it('honours rootNotAfter', async () => {
    const rootNotAfter = new Date(Date.now() + 48 * HOUR_MS);
    rootNotAfter.setMilliseconds(0);
    const shortLived = await TestPki.create({ rootNotAfter });
    expect(only(certificates(shortLived.rootCertPem)).validToDate).toEqual(rootNotAfter);
  });

  it('adds extra URI and DNS SANs, or omits the SPIFFE SAN', async () => {
    const extra = await pki.issue({
      identity: { namespace: 'default', serviceAccount: 'echo' },
      extraUris: ['spiffe://cluster.local/ns/default/sa/other'],
      dnsNames: ['echo.default.svc.cluster.local'],
    });
    expect(only(certificates(extra.certPem)).subjectAltName).toBe(
      'URI:spiffe://cluster.local/ns/default/sa/echo, URI:spiffe://cluster.local/ns/default/sa/other, DNS:echo.default.svc.cluster.local',
    );

    const withoutSpiffe = await pki.issue({
      identity: { namespace: 'default', serviceAccount: 'echo' },
      omitSpiffeSan: true,
      dnsNames: ['echo.default.svc.cluster.local'],
    });
    expect(only(certificates(withoutSpiffe.certPem)).subjectAltName).toBe(
      'DNS:echo.default.svc.cluster.local',
    );

    const bare = await pki.issue({
      identity: { namespace: 'default', serviceAccount: 'echo' },
      omitSpiffeSan: true,
    });
    const bareLeaf = only(certificates(bare.certPem));
    expect(bareLeaf.subjectAltName).toBeUndefined();
    expect(bareLeaf.subject).toContain('CN=');
  });

  it('puts a full URI in verbatim, and Node quotes what needs quoting the way urisFromSubjectAltName reads', async () => {
    const odd = 'spiffe://td/ns/a,b/sa/"q"';
    const issued = await pki.issue({ identity: 'spiffe://td/ns/a/sa', extraUris: [odd] });
    const subjectAltName = only(certificates(issued.certPem)).subjectAltName ?? '';
    expect(subjectAltName).toContain('URI:"');
    expect(urisFromSubjectAltName(subjectAltName)).toEqual(['spiffe://td/ns/a/sa', odd]);
  });

  it('gives every certificate its own positive serial, and separate PKIs distinct CA names', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const issued = await pki.issue({ identity: { namespace: 'default', serviceAccount: 'echo' } });
      serials.add(only(certificates(issued.certPem)).serialNumber);
    }
    expect(serials.size).toBe(5);
    for (const serial of serials) expect(Number.parseInt(serial.slice(0, 2), 16)).toBeLessThan(0x80);

    const other = await TestPki.create();
    expect(only(certificates(other.rootCertPem)).subject).not.toBe(
      only(certificates(pki.rootCertPem)).subject,
    );
  });
});

describe('writeCertificateDir', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pki-dir-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the layout CertificateDirectory loads, keys readable only by their owner', async () => {
    const pki = await TestPki.create({ trustDomain: 'example.org' });
    const identities = [
      { namespace: 'default', serviceAccount: 'echo' },
      { namespace: 'default', serviceAccount: 'client' },
      { namespace: 'other', serviceAccount: 'echo' },
    ];
    await pki.writeCertificateDir(dir, identities);

    expect(await readFile(join(dir, 'root-cert.pem'), 'utf8')).toBe(pki.rootCertPem);
    const keyMode = (await stat(join(dir, 'workloads', 'default', 'echo', 'key.pem'))).mode & 0o777;
    expect(keyMode).toBe(0o600);

    const loaded = CertificateDirectory.load(dir);
    expect(loaded.list().map((c) => c.identityUri)).toEqual([
      'spiffe://example.org/ns/default/sa/client',
      'spiffe://example.org/ns/default/sa/echo',
      'spiffe://example.org/ns/other/sa/echo',
    ]);
    const echo = loaded.certificateFor('spiffe://example.org/ns/default/sa/echo');
    expect(echo?.identity).toEqual({
      trustDomain: 'example.org',
      namespace: 'default',
      serviceAccount: 'echo',
    });
    expect(echo?.rootsPem).toBe(pki.rootCertPem);
    expect(loaded.certificateFor('spiffe://example.org/ns/default/sa/nobody')).toBeUndefined();
  });
});

describe('scripts/make-test-certs.mjs', () => {
  const script = join(repoRoot, 'scripts', 'make-test-certs.mjs');
  let dir: string;
  beforeEach(async () => {
    // The script runs the compiled PKI, as a user would; the test command builds first.
    if (!existsSync(join(repoRoot, 'packages', 'testing', 'dist', 'index.js'))) {
      throw new Error('packages/testing is not built: run `tsc -b` before this test');
    }
    dir = await mkdtemp(join(tmpdir(), 'pki-script-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the directory and says what it wrote', async () => {
    const out = join(dir, 'certs');
    const { stdout } = await runFile(process.execPath, [
      script,
      '--out',
      out,
      '--trust-domain',
      'example.org',
      'default/echo',
      'other/client',
    ]);
    expect(stdout).toContain(join(out, 'root-cert.pem'));
    expect(stdout).toContain(join(out, 'workloads', 'other', 'client', 'key.pem'));
    expect(stdout).toContain('spiffe://example.org/ns/default/sa/echo');
    const loaded = CertificateDirectory.load(out);
    expect(loaded.list().map((c) => c.identityUri)).toEqual([
      'spiffe://example.org/ns/default/sa/echo',
      'spiffe://example.org/ns/other/sa/client',
    ]);
  });

  it.each([
    ['no --out', ['default/echo'], '--out DIR is required'],
    ['no workload', ['--out', 'x'], 'at least one workload'],
    ['a malformed workload', ['--out', 'x', 'echo'], '"echo" is not namespace/serviceAccount'],
  ])('fails with usage on %s', async (_what, args, message) => {
    const failure = runFile(process.execPath, [script, ...args], { cwd: dir });
    await expect(failure).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining(message) as unknown,
    });
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});
