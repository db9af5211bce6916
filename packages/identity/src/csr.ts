// @peculiar/x509 finds its algorithms through tsyringe, which refuses to load unless a Reflect
// metadata polyfill is in place first; this import must stay above the x509 one.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, webcrypto } from 'node:crypto';
import { ErrorCode, MeshError } from '@ambient/core';
import { parseIdentity } from './spiffe.js';

/** A PEM certificate signing request and the PKCS#8 PEM private key it was signed with. */
export interface CertificateSigningRequest {
  csrPem: string;
  keyPem: string;
}

const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/**
 * A CSR shaped like ztunnel's: a fresh ECDSA P-256 key every time (a key is never reused across
 * rotations), an empty subject, and one URI SAN, the SPIFFE id, marked critical as RFC 5280
 * requires when the subject is empty. Throws MeshError(IdentityInvalid) for anything that is not
 * a SPIFFE workload id, so a typo never reaches the CA.
 */
export async function createCsr(identityUri: string): Promise<CertificateSigningRequest> {
  if (parseIdentity(identityUri) === undefined) {
    throw new MeshError(ErrorCode.IdentityInvalid, `not a SPIFFE workload identity: "${identityUri}"`);
  }
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identityUri }], true)],
    },
    webcrypto,
  );
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' });
  return { csrPem: csr.toString('pem'), keyPem: keyPem.toString() };
}
