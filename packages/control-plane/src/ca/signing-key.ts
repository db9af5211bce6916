import type { KeyObject, webcrypto } from 'node:crypto';

/** How WebCrypto must import a CA key, and how certificates are signed with it. */
export interface SigningKeyAlgorithm {
  readonly importParams: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  readonly signingAlgorithm: webcrypto.EcdsaParams | webcrypto.Algorithm;
}

/** Node's curve names → WebCrypto's, each with the hash of matching strength. */
const EC_CURVES: Readonly<Record<string, { namedCurve: string; hash: string }>> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
  secp521r1: { namedCurve: 'P-521', hash: 'SHA-512' },
};

/** Weaker RSA keys are refused by every current TLS stack; a CA must not sign with one. */
const MIN_RSA_BITS = 2048;

/**
 * The algorithms for a CA key (ECDSA on the NIST curves, or RSA ≥ 2048 bits with PKCS#1 v1.5
 * and SHA-256, as Istio's plug-in CAs use), or why the key cannot sign.
 */
export function describeSigningKey(
  key: KeyObject,
):
  | { readonly algorithm: SigningKeyAlgorithm; readonly unsupported?: never }
  | { readonly unsupported: string } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.type !== 'private') return { unsupported: 'not a private key' };
  if (key.asymmetricKeyType === 'ec') {
    const curve = EC_CURVES[details.namedCurve ?? ''];
    if (curve === undefined)
      return { unsupported: `EC curve ${String(details.namedCurve)} is not supported` };
    return {
      algorithm: {
        importParams: { name: 'ECDSA', namedCurve: curve.namedCurve },
        signingAlgorithm: { name: 'ECDSA', hash: curve.hash },
      },
    };
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS)
      return { unsupported: `RSA keys need at least ${String(MIN_RSA_BITS)} bits, got ${String(bits)}` };
    const params = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { algorithm: { importParams: params, signingAlgorithm: params } };
  }
  return { unsupported: `${String(key.asymmetricKeyType)} keys are not supported (use ECDSA or RSA)` };
}

/** The key as a non-extractable WebCrypto signing key, which is what @peculiar/x509 signs with. */
export function importSigningKey(key: KeyObject): {
  readonly signingKey: webcrypto.CryptoKey;
  readonly signingAlgorithm: SigningKeyAlgorithm['signingAlgorithm'];
} {
  const described = describeSigningKey(key);
  if (described.unsupported !== undefined) throw new Error(described.unsupported);
  const signingKey = key.toCryptoKey(described.algorithm.importParams, false, ['sign']);
  return { signingKey, signingAlgorithm: described.algorithm.signingAlgorithm };
}
