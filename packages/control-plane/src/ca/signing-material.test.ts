import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, isMeshError } from '@ambient/core';
import { loadOrCreateSelfSigned, loadSigningMaterial } from './signing-material.js';
import { makeCertificate, writeOperatorPki } from './test-fixtures.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ca-material-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loadError(path: string): Promise<string> {
  try {
    await loadSigningMaterial(path);
  } catch (err) {
    expect(isMeshError(err, ErrorCode.CaMaterialInvalid)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('the material loaded');
}

describe('loadSigningMaterial (Istio plug-in folder)', () => {
  it('loads an intermediate that signs, its chain and the operator root', async () => {
    const { root, intermediate } = await writeOperatorPki(dir);
    const material = await loadSigningMaterial(dir);
    expect(material.caCert.fingerprint256).toBe(new X509Certificate(intermediate.pem).fingerprint256);
    expect(material.caCert.checkPrivateKey(material.caKey)).toBe(true);
    // The root travels in the trust bundle, never in the chain.
    expect(material.intermediatePems).toEqual([intermediate.pem]);
    expect(material.rootPems).toEqual([root.pem]);
    expect(material.additionalRootPems).toEqual([]);
  });

  it('takes ca-cert.pem alone as the chain when cert-chain.pem is absent', async () => {
    const { intermediate } = await writeOperatorPki(dir);
    await rm(join(dir, 'cert-chain.pem'));
    expect((await loadSigningMaterial(dir)).intermediatePems).toEqual([intermediate.pem]);
  });

  it('accepts the root itself as the signing certificate', async () => {
    const root = await makeCertificate({ commonName: 'Signing Root' });
    await writeFile(join(dir, 'ca-cert.pem'), root.pem);
    await writeFile(join(dir, 'ca-key.pem'), root.keyPem);
    await writeFile(join(dir, 'root-cert.pem'), root.pem);
    const material = await loadSigningMaterial(dir);
    expect(material.intermediatePems).toEqual([]);
    expect(material.rootPems).toEqual([root.pem]);
  });

  it('reads additional-roots.pem as roots to trust', async () => {
    await writeOperatorPki(dir);
    const next = await makeCertificate({ commonName: 'Next Root' });
    await writeFile(join(dir, 'additional-roots.pem'), next.pem);
    expect((await loadSigningMaterial(dir)).additionalRootPems).toEqual([next.pem]);
  });

  it('reports every problem at once, each with its file', async () => {
    await writeOperatorPki(dir);
    const stranger = await makeCertificate({ commonName: 'Stranger Root' });
    const leaf = await makeCertificate({ commonName: 'not a CA', ca: false, issuer: stranger });
    await writeFile(join(dir, 'ca-cert.pem'), leaf.pem);
    await writeFile(join(dir, 'cert-chain.pem'), leaf.pem);
    await writeFile(join(dir, 'ca-key.pem'), stranger.keyPem);
    const message = await loadError(dir);
    expect(message).toContain(
      `${join(dir, 'ca-cert.pem')}: "O=ambient tests, CN=not a CA" is not a CA certificate`,
    );
    expect(message).toContain(`${join(dir, 'ca-key.pem')}: the key does not belong to the certificate`);
    expect(message).toContain(`${join(dir, 'cert-chain.pem')}: does not lead to any certificate in`);
    expect(message).toContain(
      `${join(dir, 'ca-cert.pem')}: "O=ambient tests, CN=not a CA" may not sign certificates`,
    );
    expect(message).toContain('4 problems');
  });

  it('names each missing file', async () => {
    const message = await loadError(dir);
    for (const file of ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem']) {
      expect(message).toContain(`${join(dir, file)}: cannot read`);
    }
    expect(message).not.toContain('cert-chain.pem');
  });

  it('refuses a chain that does not start with ca-cert.pem, and a broken link', async () => {
    const { root, intermediate } = await writeOperatorPki(dir);
    await writeFile(join(dir, 'cert-chain.pem'), root.pem + intermediate.pem);
    expect(await loadError(dir)).toContain('cert-chain.pem: must start with the certificate in');

    const other = await makeCertificate({ commonName: 'Other Root' });
    await writeFile(join(dir, 'cert-chain.pem'), intermediate.pem + other.pem);
    expect(await loadError(dir)).toContain('cert-chain.pem: certificate 1 is not signed by certificate 2');
  });

  it('refuses an expired signing certificate and unreadable PEM', async () => {
    const { root } = await writeOperatorPki(dir);
    const expired = await makeCertificate({
      commonName: 'Old Intermediate',
      issuer: root,
      notAfter: new Date(Date.now() - 60_000),
    });
    await writeFile(join(dir, 'ca-cert.pem'), expired.pem);
    await writeFile(join(dir, 'ca-key.pem'), expired.keyPem);
    await writeFile(join(dir, 'cert-chain.pem'), expired.pem);
    await writeFile(join(dir, 'root-cert.pem'), 'not a certificate');
    const message = await loadError(dir);
    expect(message).toMatch(/ca-cert\.pem: "O=ambient tests, CN=Old Intermediate" expired on /);
    expect(message).toContain(`${join(dir, 'root-cert.pem')}: holds no PEM certificate`);
  });
});

describe('loadOrCreateSelfSigned', () => {
  it('creates an ECDSA P-256 root once, key mode 0600, and loads the same root on restart', async () => {
    const stateDir = join(dir, 'state');
    const first = await loadOrCreateSelfSigned(stateDir, { trustDomain: 'example.org' });
    expect(first.caCert.ca).toBe(true);
    expect(first.caCert.subject).toBe('O=example.org');
    expect(first.caCert.checkIssued(first.caCert)).toBe(true);
    expect(first.caKey.asymmetricKeyType).toBe('ec');
    expect(first.caKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(first.rootPems).toEqual([first.caCertPem]);
    expect(first.intermediatePems).toEqual([]);
    expect((await stat(join(stateDir, 'ca-key.pem'))).mode & 0o777).toBe(0o600);

    const second = await loadOrCreateSelfSigned(stateDir);
    expect(second.caCertPem).toBe(first.caCertPem);
    expect(second.caKey.equals(first.caKey)).toBe(true);
    expect(await readFile(join(stateDir, 'ca-cert.pem'), 'utf8')).toBe(first.caCertPem);
  });

  it('reads additional-roots.pem from the state folder', async () => {
    await loadOrCreateSelfSigned(dir);
    const next = await makeCertificate({ commonName: 'Next Root' });
    await writeFile(join(dir, 'additional-roots.pem'), next.pem);
    expect((await loadOrCreateSelfSigned(dir)).additionalRootPems).toEqual([next.pem]);
  });

  it('refuses a state folder whose certificate is not self-signed', async () => {
    await loadOrCreateSelfSigned(dir);
    const { root, intermediate } = await writeOperatorPki(join(dir, 'operator'));
    await writeFile(join(dir, 'ca-cert.pem'), intermediate.pem + root.pem);
    await writeFile(join(dir, 'ca-key.pem'), intermediate.keyPem);
    await expect(loadOrCreateSelfSigned(dir)).rejects.toThrow(
      /ca-cert\.pem: expected one certificate, found 2/,
    );
    await writeFile(join(dir, 'ca-cert.pem'), intermediate.pem);
    await expect(loadOrCreateSelfSigned(dir)).rejects.toThrow(/ca-cert\.pem: is not a self-signed root/);
  });

  it('refuses a state folder whose key was replaced', async () => {
    await loadOrCreateSelfSigned(dir);
    const other = await makeCertificate({ commonName: 'Other' });
    await writeFile(join(dir, 'ca-key.pem'), other.keyPem);
    await expect(loadOrCreateSelfSigned(dir)).rejects.toThrow(/ca-key\.pem: the key does not belong/);
  });
});
