import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, MeshError } from '@ambient/core';
import { CertificateDirectory } from './store.js';

// Loading real certificates is tested in packages/testing/src/pki-identity.test.ts (this package
// cannot depend on the PKI in @ambient/testing). Files are read before any is parsed, so these
// placeholders are enough to reach each missing-file error.
const PLACEHOLDER = 'placeholder\n';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'identity-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function loadError(): MeshError {
  try {
    CertificateDirectory.load(dir);
  } catch (err) {
    if (err instanceof MeshError) return err;
    throw err;
  }
  throw new Error('CertificateDirectory.load succeeded');
}

describe('CertificateDirectory.load errors name the file', () => {
  it('a missing root-cert.pem', () => {
    const error = loadError();
    expect(error.code).toBe(ErrorCode.CertMissing);
    expect(error.message).toContain(join(dir, 'root-cert.pem'));
  });

  it('a missing workloads folder', async () => {
    await writeFile(join(dir, 'root-cert.pem'), PLACEHOLDER);
    const error = loadError();
    expect(error.code).toBe(ErrorCode.CertMissing);
    expect(error.message).toContain(join(dir, 'workloads'));
  });

  it('a missing key.pem', async () => {
    const workload = join(dir, 'workloads', 'default', 'echo');
    await mkdir(workload, { recursive: true });
    await writeFile(join(dir, 'root-cert.pem'), PLACEHOLDER);
    await writeFile(join(workload, 'cert-chain.pem'), PLACEHOLDER);
    const error = loadError();
    expect(error.code).toBe(ErrorCode.CertMissing);
    expect(error.message).toContain(join(workload, 'key.pem'));
  });

  it('a missing cert-chain.pem', async () => {
    const workload = join(dir, 'workloads', 'default', 'echo');
    await mkdir(workload, { recursive: true });
    await writeFile(join(dir, 'root-cert.pem'), PLACEHOLDER);
    await writeFile(join(workload, 'key.pem'), PLACEHOLDER);
    const error = loadError();
    expect(error.code).toBe(ErrorCode.CertMissing);
    expect(error.message).toContain(join(workload, 'cert-chain.pem'));
  });

  it('unreadable contents name the workload files', async () => {
    const workload = join(dir, 'workloads', 'default', 'echo');
    await mkdir(workload, { recursive: true });
    await writeFile(join(dir, 'root-cert.pem'), PLACEHOLDER);
    await writeFile(join(workload, 'cert-chain.pem'), PLACEHOLDER);
    await writeFile(join(workload, 'key.pem'), PLACEHOLDER);
    const error = loadError();
    expect(error.code).toBe(ErrorCode.CertMissing);
    expect(error.message).toContain(join(workload, 'cert-chain.pem'));
  });

  it('an empty workloads folder loads no certificate', async () => {
    await mkdir(join(dir, 'workloads'));
    await writeFile(join(dir, 'root-cert.pem'), PLACEHOLDER);
    const certificates = CertificateDirectory.load(dir);
    expect(certificates.list()).toEqual([]);
    expect(certificates.certificateFor('spiffe://cluster.local/ns/default/sa/echo')).toBeUndefined();
  });
});
