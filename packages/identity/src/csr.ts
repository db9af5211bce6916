import { generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { ErrorCode, MeshError } from '@ambient/core';
import {
  bitString,
  booleanTrue,
  contextConstructed,
  contextPrimitive,
  integerZero,
  objectIdentifier,
  octetString,
  sequence,
  set,
} from './der.js';
import { parseIdentity } from './spiffe.js';

/** A PEM certificate signing request and the PKCS#8 PEM private key it was signed with. */
export interface CertificateSigningRequest {
  csrPem: string;
  keyPem: string;
}

const generateEcKeyPair = promisify(generateKeyPair);

// Object identifiers of the one CSR shape we make (RFC 2986, RFC 5280, RFC 5758).
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const SUBJECT_ALT_NAME = '2.5.29.17';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
/** GeneralName's `[6] uniformResourceIdentifier`. */
const GENERAL_NAME_URI = 6;

/**
 * A CSR shaped like ztunnel's: a fresh ECDSA P-256 key every time (a key is never reused across
 * rotations), an empty subject, and one URI SAN, the SPIFFE id, marked critical as RFC 5280
 * requires when the subject is empty. Throws MeshError(IdentityInvalid) for anything that is not
 * a SPIFFE workload id, so a typo never reaches the CA.
 *
 * Encoded by hand (a dozen DER elements) rather than with an X.509 library: the ztunnel needs
 * nothing else from one, and not loading it keeps about 20 MiB out of every node agent's memory.
 */
export async function createCsr(identityUri: string): Promise<CertificateSigningRequest> {
  if (parseIdentity(identityUri) === undefined) {
    throw new MeshError(ErrorCode.IdentityInvalid, `not a SPIFFE workload identity: "${identityUri}"`);
  }
  const { publicKey, privateKey } = await generateEcKeyPair('ec', { namedCurve: 'prime256v1' });
  const info = requestInfo(publicKey, identityUri);
  // node:crypto signs ECDSA in DER (r, s) form, which is what the signature BIT STRING holds.
  const signature = sign('sha256', info, privateKey);
  const csr = sequence(info, sequence(objectIdentifier(ECDSA_WITH_SHA256)), bitString(signature));
  return {
    csrPem: pem('CERTIFICATE REQUEST', csr),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** CertificationRequestInfo: version 0, empty subject, the key, and an extensionRequest with the SAN. */
function requestInfo(publicKey: KeyObject, identityUri: string): Buffer {
  const subjectAltName = sequence(
    objectIdentifier(SUBJECT_ALT_NAME),
    booleanTrue(),
    octetString(sequence(contextPrimitive(GENERAL_NAME_URI, Buffer.from(identityUri, 'ascii')))),
  );
  const extensionRequest = sequence(objectIdentifier(EXTENSION_REQUEST), set(sequence(subjectAltName)));
  return sequence(
    integerZero(),
    sequence(),
    publicKey.export({ type: 'spki', format: 'der' }),
    contextConstructed(0, extensionRequest),
  );
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
