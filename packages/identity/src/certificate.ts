import { X509Certificate, constants, createPrivateKey, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { ErrorCode, MeshError, errorMessage } from '@ambient/core';
import { firstIdentity, formatIdentity, urisFromSubjectAltName, type Identity } from './spiffe.js';

/** What a CA hands a workload. PEM throughout; the key is PKCS#8. */
export interface CertificateMaterial {
  /** Leaf first, then intermediates; the root is not included. */
  certChainPem: string;
  keyPem: string;
  /** One or more concatenated root certificates the peers' chains must end in. */
  rootsPem: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Options of the context, kept off the instance so the private key never shows up when an
 * instance is logged or inspected. Only tls.ts reads them: a `tls.Server` builds its own context
 * from key/cert/ca and ignores a prebuilt one.
 */
const contextOptionsByCertificate = new WeakMap<WorkloadCertificate, Readonly<SecureContextOptions>>();

/**
 * One workload's certificate, checked once and turned into the one `SecureContext` every
 * connection for this identity reuses (building it per connection costs 1.5x the handshake CPU).
 */
export class WorkloadCertificate {
  private constructor(
    readonly identity: Identity,
    readonly identityUri: string,
    readonly notBefore: Date,
    readonly notAfter: Date,
    /** Lower-case hex, as OpenSSL prints it. */
    readonly serialNumber: string,
    readonly chainPem: string,
    readonly rootsPem: string,
    readonly secureContext: SecureContext,
  ) {}

  /**
   * Throws MeshError(CertMissing) when the material cannot be used (unreadable PEM, no certificate,
   * a key that does not match the leaf) and MeshError(IdentityInvalid) when the leaf carries no
   * SPIFFE workload URI SAN.
   */
  static fromPem(material: CertificateMaterial): WorkloadCertificate {
    const chain = pemCertificates(material.certChainPem, 'certificate chain');
    pemCertificates(material.rootsPem, 'roots');
    const leaf = chain[0];
    if (leaf === undefined) throw unusable('the certificate chain holds no certificate');
    const key = parsePrivateKey(material.keyPem);
    if (!leaf.checkPrivateKey(key)) throw unusable('the private key does not belong to the leaf certificate');

    const uris = urisFromSubjectAltName(leaf.subjectAltName ?? '');
    const identity = firstIdentity(uris);
    if (identity === undefined) {
      throw new MeshError(
        ErrorCode.IdentityInvalid,
        `the leaf certificate carries no SPIFFE workload identity (URI SANs: ${uris.length > 0 ? uris.join(', ') : 'none'})`,
      );
    }

    const contextOptions: Readonly<SecureContextOptions> = Object.freeze({
      cert: material.certChainPem,
      key: material.keyPem,
      ca: material.rootsPem,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      // Resumption would skip our identity checks (Node runs checkServerIdentity only on full
      // handshakes), so no tickets; no session cache either (see tls.ts).
      secureOptions: constants.SSL_OP_NO_TICKET,
    });
    let secureContext: SecureContext;
    try {
      secureContext = createSecureContext(contextOptions);
    } catch (err) {
      throw unusable(`TLS rejected the material: ${errorMessage(err)}`, err);
    }

    const certificate = new WorkloadCertificate(
      identity,
      formatIdentity(identity),
      leaf.validFromDate,
      leaf.validToDate,
      leaf.serialNumber.toLowerCase(),
      material.certChainPem,
      material.rootsPem,
      secureContext,
    );
    contextOptionsByCertificate.set(certificate, contextOptions);
    return certificate;
  }
}

/** The options `fromPem` built the context from (for servers that build their own context). */
export function secureContextOptionsOf(certificate: WorkloadCertificate): Readonly<SecureContextOptions> {
  const options = contextOptionsByCertificate.get(certificate);
  if (options === undefined) throw new Error('a WorkloadCertificate not made by WorkloadCertificate.fromPem');
  return options;
}

function pemCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw unusable(`the ${what} holds no PEM certificate`);
  return blocks.map((block) => parseCertificate(block, what));
}

function parseCertificate(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw unusable(`unreadable certificate in the ${what}: ${errorMessage(err)}`, err);
  }
}

function parsePrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw unusable(`unreadable private key: ${errorMessage(err)}`, err);
  }
}

function unusable(message: string, cause?: unknown): MeshError {
  return new MeshError(ErrorCode.CertMissing, message, { cause });
}
