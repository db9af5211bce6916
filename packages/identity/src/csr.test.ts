import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isMeshError } from '@ambient/core';
import { createCsr } from './csr.js';

const IDENTITY = 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage';
const SUBJECT_ALT_NAME_OID = '2.5.29.17';

function subjectAltName(csr: x509.Pkcs10CertificateRequest): x509.SubjectAlternativeNameExtension {
  const extension = csr.getExtension(SUBJECT_ALT_NAME_OID);
  if (!(extension instanceof x509.SubjectAlternativeNameExtension)) {
    throw new Error('the CSR has no subjectAltName extension');
  }
  return extension;
}

describe('createCsr', () => {
  it('asks for exactly the SPIFFE id, with an empty subject, signed by its own key', async () => {
    const { csrPem } = await createCsr(IDENTITY);
    expect(csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    expect(await csr.verify(webcrypto)).toBe(true);
    expect(csr.subject).toBe('');
    const san = subjectAltName(csr);
    expect(san.critical).toBe(true);
    expect(san.names.toJSON()).toEqual([{ type: 'url', value: IDENTITY }]);
    expect(csr.extensions).toHaveLength(1);
    expect(csr.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
  });

  it('returns a PKCS#8 P-256 key whose public half is the one in the CSR', async () => {
    const { csrPem, keyPem } = await createCsr(IDENTITY);
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(keyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const csrPublicKey = Buffer.from(new x509.Pkcs10CertificateRequest(csrPem).publicKey.rawData);
    expect(createPublicKey(key).export({ type: 'spki', format: 'der' })).toEqual(csrPublicKey);
  });

  it('makes a fresh key for every request', async () => {
    const first = await createCsr(IDENTITY);
    const second = await createCsr(IDENTITY);
    expect(first.keyPem).not.toBe(second.keyPem);
    expect(first.csrPem).not.toBe(second.csrPem);
  });

  it.each([
    ['no scheme', 'cluster.local/ns/default/sa/echo'],
    ['a namespace only', 'spiffe://cluster.local/ns/default'],
    ['the empty string', ''],
  ])('refuses %s with IdentityInvalid', async (_what, identityUri) => {
    const error: unknown = await createCsr(identityUri).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isMeshError(error, ErrorCode.IdentityInvalid)).toBe(true);
  });
});
