import { createPublicKey, webcrypto } from 'node:crypto';
import { errorMessage } from '@ambient/core';
import { parseIdentity } from '@ambient/identity';
import { x509 } from '../x509.js';

/** A CSR we may sign: its signature verified, its one SPIFFE URI SAN read. */
export interface CheckedCsr {
  readonly identityUri: string;
  readonly publicKey: x509.PublicKey;
}

export type CsrCheck =
  { readonly ok: true; readonly csr: CheckedCsr } | { readonly ok: false; readonly reason: string };

const PEM_CSR = /^\s*-----BEGIN CERTIFICATE REQUEST-----[\s\S]+-----END CERTIFICATE REQUEST-----\s*$/;
/** Keys a current TLS stack refuses are not worth a certificate. */
const MIN_RSA_BITS = 2048;

/**
 * Reads a PEM PKCS#10 request as ztunnel and istio-agent send it: a proof of possession (the
 * request is signed by the key it carries) and exactly one URI SAN, a SPIFFE workload id. Other
 * SAN types are ignored: the certificate carries only the identity we grant. Never throws.
 */
export async function checkCsr(csrPem: string): Promise<CsrCheck> {
  if (!PEM_CSR.test(csrPem)) return refuse('the CSR is not one PEM "CERTIFICATE REQUEST" block');
  let request: x509.Pkcs10CertificateRequest;
  try {
    request = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    return refuse(`the CSR cannot be parsed: ${errorMessage(err)}`);
  }
  try {
    if (!(await request.verify(webcrypto))) return refuse('the CSR signature does not verify');
  } catch (err) {
    return refuse(`the CSR signature cannot be checked: ${errorMessage(err)}`);
  }
  const keyProblem = publicKeyProblem(request.publicKey);
  if (keyProblem !== undefined) return refuse(keyProblem);

  let uris: string[];
  try {
    uris = request.extensions
      .filter((extension) => extension instanceof x509.SubjectAlternativeNameExtension)
      .flatMap((extension) => extension.names.items)
      .filter((name) => name.type === 'url')
      .map((name) => name.value);
  } catch (err) {
    return refuse(`the CSR's extensions cannot be read: ${errorMessage(err)}`);
  }
  if (uris.length !== 1) {
    return refuse(`the CSR must carry exactly one URI SAN, found ${String(uris.length)}`);
  }
  const [identityUri = ''] = uris;
  if (parseIdentity(identityUri) === undefined) {
    return refuse(`the CSR's URI SAN "${identityUri}" is not a SPIFFE workload id`);
  }
  return { ok: true, csr: { identityUri, publicKey: request.publicKey } };
}

function publicKeyProblem(publicKey: x509.PublicKey): string | undefined {
  try {
    const key = createPublicKey({ key: Buffer.from(publicKey.rawData), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
      return `the CSR's RSA key is shorter than ${String(MIN_RSA_BITS)} bits`;
    }
    return undefined;
  } catch (err) {
    return `the CSR's public key cannot be read: ${errorMessage(err)}`;
  }
}

function refuse(reason: string): CsrCheck {
  return { ok: false, reason };
}
