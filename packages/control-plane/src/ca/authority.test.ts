import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@ambient/core';
import { x509 } from '../x509.js';
import { CertificateAuthority, MAX_WORKLOAD_CERT_TTL_SECONDS, type SignResult } from './authority.js';
import { splitPemCertificates } from './pem.js';
import { loadOrCreateSelfSigned, loadSigningMaterial, type SigningMaterial } from './signing-material.js';
import { makeCertificate, makeCsr, spiffeId, writeOperatorPki, type OperatorPki } from './test-fixtures.js';

const SLEEP = spiffeId('default', 'sleep');
const DAY_SECONDS = 86_400;

let dir: string;
let selfSigned: SigningMaterial;
let operator: OperatorPki;
let plugIn: SigningMaterial;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ca-authority-'));
  selfSigned = await loadOrCreateSelfSigned(join(dir, 'state'));
  operator = await writeOperatorPki(join(dir, 'cacerts'));
  plugIn = await loadSigningMaterial(join(dir, 'cacerts'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function issued(result: SignResult): readonly string[] {
  if (!result.ok) throw new Error(`refused: ${result.message}`);
  return result.certChain;
}

describe('CertificateAuthority.sign', () => {
  it('issues an istiod-shaped leaf for exactly the identity, verifiable against the root', async () => {
    const authority = await CertificateAuthority.create(selfSigned);
    const { csrPem, keyPem } = await makeCsr({ uris: [SLEEP] });
    const chain = issued(await authority.sign(csrPem, SLEEP, DAY_SECONDS));
    expect(chain).toHaveLength(2);
    const [leafPem = '', bundle = ''] = chain;
    const leaf = new X509Certificate(leafPem);
    const root = new X509Certificate(bundle);
    expect(leaf.checkIssued(root) && leaf.verify(root.publicKey)).toBe(true);
    expect(leaf.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(leaf.subjectAltName).toBe(`URI:${SLEEP}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);

    const parsed = new x509.X509Certificate(leafPem);
    expect(parsed.subject).toBe('');
    const keyUsage = parsed.getExtension(x509.KeyUsagesExtension);
    expect(keyUsage?.critical).toBe(true);
    expect(keyUsage?.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    expect(parsed.getExtension(x509.SubjectAlternativeNameExtension)?.critical).toBe(true);
    expect(parsed.getExtension(x509.BasicConstraintsExtension)?.critical).toBe(true);
    const rootKeyId = new x509.X509Certificate(bundle).getExtension(
      x509.SubjectKeyIdentifierExtension,
    )?.keyId;
    expect(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(rootKeyId);
    // Backdated a minute for clock skew, valid for exactly the lifetime asked for after "now".
    expect((leaf.validToDate.getTime() - leaf.validFromDate.getTime()) / 1000).toBe(DAY_SECONDS + 60);
  });

  it('uses the default lifetime when none is asked for, and gives every leaf a new serial', async () => {
    const authority = await CertificateAuthority.create(selfSigned, { defaultTtlSeconds: 3600 });
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const first = new X509Certificate(issued(await authority.sign(csrPem, SLEEP))[0] ?? '');
    const second = new X509Certificate(issued(await authority.sign(csrPem, SLEEP))[0] ?? '');
    expect((first.validToDate.getTime() - first.validFromDate.getTime()) / 1000).toBe(3600 + 60);
    expect(first.serialNumber).not.toBe(second.serialNumber);
  });

  it('returns leaf, intermediate, then the roots, with an operator intermediate', async () => {
    const authority = await CertificateAuthority.create(plugIn);
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const [leafPem = '', intermediatePem, bundle] = issued(await authority.sign(csrPem, SLEEP, DAY_SECONDS));
    expect(intermediatePem).toBe(operator.intermediate.pem);
    expect(bundle).toBe(operator.root.pem);
    const leaf = new X509Certificate(leafPem);
    expect(leaf.verify(new X509Certificate(operator.intermediate.pem).publicKey)).toBe(true);
    expect(leaf.issuer).toBe('O=ambient tests\nCN=Operator Intermediate CA');
  });

  it('never issues a leaf that outlives its issuer', async () => {
    const shortLived = await makeCertificate({
      commonName: 'Short Intermediate',
      issuer: operator.root,
      notAfter: new Date(Date.now() + 2 * DAY_SECONDS * 1000),
    });
    const shortDir = join(dir, 'short');
    await writeOperatorPki(shortDir);
    await writeFile(join(shortDir, 'ca-cert.pem'), shortLived.pem);
    await writeFile(join(shortDir, 'ca-key.pem'), shortLived.keyPem);
    await writeFile(join(shortDir, 'cert-chain.pem'), shortLived.pem + operator.root.pem);
    await writeFile(join(shortDir, 'root-cert.pem'), operator.root.pem);
    const authority = await CertificateAuthority.create(await loadSigningMaterial(shortDir));
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const leaf = new X509Certificate(issued(await authority.sign(csrPem, SLEEP, 5 * DAY_SECONDS))[0] ?? '');
    expect(leaf.validTo).toBe(new X509Certificate(shortLived.pem).validTo);
  });

  const badLifetimes: [string, number][] = [
    ['zero', 0],
    ['negative', -60],
    ['fractional', 1.5],
    ['above the maximum', MAX_WORKLOAD_CERT_TTL_SECONDS + 1],
  ];
  it.each(badLifetimes)('refuses a %s lifetime', async (_name, ttl) => {
    const authority = await CertificateAuthority.create(selfSigned);
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const result = await authority.sign(csrPem, SLEEP, ttl);
    expect(result.ok ? 'issued' : result.reason).toBe('ttl-invalid');
  });

  it('honours a configured maximum', async () => {
    const authority = await CertificateAuthority.create(selfSigned, {
      defaultTtlSeconds: 60,
      maxTtlSeconds: 3600,
    });
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    expect((await authority.sign(csrPem, SLEEP, 3600)).ok).toBe(true);
    expect((await authority.sign(csrPem, SLEEP, 3601)).ok).toBe(false);
    await expect(
      CertificateAuthority.create(selfSigned, { defaultTtlSeconds: 7200, maxTtlSeconds: 3600 }),
    ).rejects.toThrow(RangeError);
  });

  it('refuses a CSR for another identity than the one granted, and a malformed CSR', async () => {
    const authority = await CertificateAuthority.create(selfSigned);
    const { csrPem } = await makeCsr({ uris: [spiffeId('default', 'admin')] });
    const mismatch = await authority.sign(csrPem, SLEEP, DAY_SECONDS);
    expect(mismatch.ok ? 'issued' : mismatch.reason).toBe('identity-mismatch');
    const malformed = await authority.sign('-----BEGIN CERTIFICATE REQUEST-----\n', SLEEP, DAY_SECONDS);
    expect(malformed.ok ? 'issued' : malformed.reason).toBe('csr-invalid');
  });
});

describe('CertificateAuthority root rotation', () => {
  it('hands out an added root beside the old one while still signing with the old one', async () => {
    const authority = await CertificateAuthority.create(selfSigned);
    const next = await makeCertificate({ commonName: 'Next Root' });
    authority.addTrustedRoot(next.pem);
    authority.addTrustedRoot(next.pem);
    expect(authority.trustedRoots).toEqual([selfSigned.caCertPem, next.pem]);

    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const [leafPem = '', bundle = ''] = issued(await authority.sign(csrPem, SLEEP, DAY_SECONDS));
    expect(splitPemCertificates(bundle)).toEqual([selfSigned.caCertPem, next.pem]);
    const leaf = new X509Certificate(leafPem);
    expect(leaf.verify(selfSigned.caCert.publicKey)).toBe(true);
    expect(leaf.verify(new X509Certificate(next.pem).publicKey)).toBe(false);
  });

  it('includes additional-roots.pem in the bundle', async () => {
    const next = await makeCertificate({ commonName: 'Next Root' });
    const authority = await CertificateAuthority.create({ ...selfSigned, additionalRootPems: [next.pem] });
    expect(authority.trustBundle).toBe(selfSigned.caCertPem + next.pem);
  });

  it('refuses to trust anything but one CA certificate', async () => {
    const authority = await CertificateAuthority.create(selfSigned);
    const leaf = await makeCertificate({ commonName: 'leaf', ca: false });
    expect(() => {
      authority.addTrustedRoot(leaf.pem);
    }).toThrow(expect.objectContaining({ code: ErrorCode.CaMaterialInvalid }) as Error);
    expect(() => {
      authority.addTrustedRoot('nothing');
    }).toThrow(/one PEM certificate, got 0/);
    expect(authority.trustedRoots).toEqual([selfSigned.caCertPem]);
  });
});

describe('CertificateAuthority.issueServingCertificate', () => {
  it('issues a server certificate for the DNS names and IPs, chained like a leaf', async () => {
    const authority = await CertificateAuthority.create(plugIn);
    const serving = await authority.issueServingCertificate({
      dnsNames: ['istiod.istio-system.svc'],
      ips: ['127.27.0.1'],
    });
    const [leafPem = '', intermediatePem] = splitPemCertificates(serving.certChainPem);
    expect(intermediatePem).toBe(operator.intermediate.pem);
    const leaf = new X509Certificate(leafPem);
    expect(leaf.subjectAltName).toBe('DNS:istiod.istio-system.svc, IP Address:127.27.0.1');
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(leaf.checkPrivateKey(createPrivateKey(serving.keyPem))).toBe(true);
  });
});
