// @ambient/identity's certificate handling with real certificates from the test PKI. These live
// here because identity cannot depend on @ambient/testing (which depends on it).
import { X509Certificate } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, MeshError } from '@ambient/core';
import { CertificateDirectory, WorkloadCertificate, type CertificateMaterial } from '@ambient/identity';
import { TestPki } from './pki.js';

function fromPemError(material: CertificateMaterial): MeshError {
  try {
    WorkloadCertificate.fromPem(material);
  } catch (err) {
    if (err instanceof MeshError) return err;
    throw err;
  }
  throw new Error('WorkloadCertificate.fromPem succeeded');
}

describe('WorkloadCertificate.fromPem', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await TestPki.create();
  });

  it('reads the identity, validity and serial of the leaf', async () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const notAfter = new Date('2030-01-02T00:00:00Z');
    const issued = await pki.issue({
      identity: { namespace: 'default', serviceAccount: 'echo' },
      notBefore,
      notAfter,
    });
    const certificate = WorkloadCertificate.fromPem(issued);
    expect(certificate.identity).toEqual({
      trustDomain: 'cluster.local',
      namespace: 'default',
      serviceAccount: 'echo',
    });
    expect(certificate.identityUri).toBe('spiffe://cluster.local/ns/default/sa/echo');
    expect(certificate.notBefore).toEqual(notBefore);
    expect(certificate.notAfter).toEqual(notAfter);
    expect(certificate.serialNumber).toBe(new X509Certificate(issued.certPem).serialNumber.toLowerCase());
    expect(certificate.serialNumber).toMatch(/^[0-9a-f]+$/);
    expect(certificate.chainPem).toBe(issued.certChainPem);
    expect(certificate.rootsPem).toBe(issued.rootsPem);
    expect(certificate.secureContext.context).toBeDefined();
  });

  it('takes the first SAN that is a workload SPIFFE id', async () => {
    const issued = await pki.issue({
      identity: 'spiffe://cluster.local/ns/default',
      extraUris: [
        'https://example.com',
        'spiffe://cluster.local/ns/a/sa/b',
        'spiffe://cluster.local/ns/c/sa/d',
      ],
    });
    expect(WorkloadCertificate.fromPem(issued).identityUri).toBe('spiffe://cluster.local/ns/a/sa/b');
  });

  it('never shows the private key when inspected or serialised', async () => {
    const issued = await pki.issue({ identity: { namespace: 'default', serviceAccount: 'echo' } });
    const certificate = WorkloadCertificate.fromPem(issued);
    const keyBody = issued.keyPem.split('\n')[1] ?? '';
    expect(keyBody.length).toBeGreaterThan(10);
    expect(inspect(certificate, { depth: 10 })).not.toContain(keyBody);
    expect(JSON.stringify(certificate)).not.toContain(keyBody);
  });

  it('rejects a leaf without a SPIFFE workload SAN with IdentityInvalid', async () => {
    const cases = [
      await pki.issue({ identity: { namespace: 'a', serviceAccount: 'b' }, omitSpiffeSan: true }),
      await pki.issue({
        identity: { namespace: 'a', serviceAccount: 'b' },
        omitSpiffeSan: true,
        dnsNames: ['a.b'],
      }),
      await pki.issue({ identity: 'spiffe://cluster.local/ns/a/sa/b/extra' }),
    ];
    for (const issued of cases) {
      expect(fromPemError(issued).code).toBe(ErrorCode.IdentityInvalid);
    }
  });

  it('rejects a key that does not belong to the leaf with CertMissing', async () => {
    const one = await pki.issue({ identity: { namespace: 'a', serviceAccount: 'b' } });
    const two = await pki.issue({ identity: { namespace: 'a', serviceAccount: 'b' } });
    const error = fromPemError({ ...one, keyPem: two.keyPem });
    expect(error.code).toBe(ErrorCode.CertMissing);
    expect(error.message).toContain('private key');
  });

  it('rejects unreadable roots or key with CertMissing', async () => {
    const issued = await pki.issue({ identity: { namespace: 'a', serviceAccount: 'b' } });
    expect(fromPemError({ ...issued, rootsPem: '' }).code).toBe(ErrorCode.CertMissing);
    expect(fromPemError({ ...issued, keyPem: 'not a key' }).code).toBe(ErrorCode.CertMissing);
  });
});

describe('CertificateDirectory with real certificates', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pki-identity-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a certificate filed under another workload, naming the file', async () => {
    const pki = await TestPki.create();
    await pki.writeCertificateDir(dir, [{ namespace: 'default', serviceAccount: 'echo' }]);
    const misfiled = join(dir, 'workloads', 'default', 'impostor');
    await cp(join(dir, 'workloads', 'default', 'echo'), misfiled, { recursive: true });
    let error: unknown;
    try {
      CertificateDirectory.load(dir);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(MeshError);
    expect(error).toMatchObject({ code: ErrorCode.IdentityInvalid });
    expect((error as MeshError).message).toContain(join(misfiled, 'cert-chain.pem'));
  });

  it('reports a leaf without a SPIFFE SAN with the file and IdentityInvalid', async () => {
    const pki = await TestPki.create();
    await pki.writeCertificateDir(dir, [{ namespace: 'default', serviceAccount: 'echo' }]);
    const other = await TestPki.create();
    const issued = await other.issue({
      identity: { namespace: 'default', serviceAccount: 'echo' },
      omitSpiffeSan: true,
    });
    const workload = join(dir, 'workloads', 'default', 'echo');
    await writeFile(join(workload, 'cert-chain.pem'), issued.certChainPem);
    await writeFile(join(workload, 'key.pem'), issued.keyPem);
    let error: unknown;
    try {
      CertificateDirectory.load(dir);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: ErrorCode.IdentityInvalid });
    expect((error as MeshError).message).toContain(join(workload, 'cert-chain.pem'));
  });
});
