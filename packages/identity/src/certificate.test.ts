import { describe, expect, it } from 'vitest';
import { ErrorCode, isMeshError } from '@ambient/core';
import { WorkloadCertificate } from './certificate.js';

// Behaviour with real certificates (identity, dates, serial, key mismatch, no SPIFFE SAN) is
// tested in packages/testing/src/pki-identity.test.ts, next to the PKI that makes them: this
// package cannot depend on @ambient/testing, which depends on it.

const GARBAGE_CERT = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (err) {
    return isMeshError(err) ? err.code : `not a MeshError: ${String(err)}`;
  }
  return undefined;
}

describe('WorkloadCertificate.fromPem on unusable material', () => {
  it.each([
    ['empty PEM', { certChainPem: '', keyPem: '', rootsPem: '' }],
    ['text without a PEM block', { certChainPem: 'hello', keyPem: 'hello', rootsPem: 'hello' }],
    ['a PEM block that is not DER', { certChainPem: GARBAGE_CERT, keyPem: '', rootsPem: GARBAGE_CERT }],
  ])('%s: CertMissing', (_what, material) => {
    expect(codeOf(() => WorkloadCertificate.fromPem(material))).toBe(ErrorCode.CertMissing);
  });
});
