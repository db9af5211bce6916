import { KeyObject, webcrypto } from 'node:crypto';
import { ErrorCode, MeshError } from '@ambient/core';
import { x509 } from '../x509.js';
import { checkCsr } from './csr.js';
import { parseCertificate, splitPemCertificates, withTrailingNewline } from './pem.js';
import { CLOCK_SKEW_MS, randomSerial } from './serial.js';
import { caCertificateProblems, type SigningMaterial } from './signing-material.js';
import { importSigningKey } from './signing-key.js';

/** istiod's DEFAULT_WORKLOAD_CERT_TTL, and what ztunnel asks for (SECRET_TTL). */
export const DEFAULT_WORKLOAD_CERT_TTL_SECONDS = 24 * 3600;
/** istiod's MAX_WORKLOAD_CERT_TTL: a stolen key is useful at most this long. */
export const MAX_WORKLOAD_CERT_TTL_SECONDS = 90 * 24 * 3600;
/** The CA's own serving certificate; it is issued at startup, so a year outlasts any sane uptime. */
const SERVING_CERT_TTL_SECONDS = 365 * 24 * 3600;

export interface CertificateAuthorityOptions {
  /** For a request that names no lifetime; default 24 h. */
  readonly defaultTtlSeconds?: number;
  /** Longer requests are refused; default 90 days. */
  readonly maxTtlSeconds?: number;
}

export type SignRefusalReason = 'csr-invalid' | 'identity-mismatch' | 'ttl-invalid';

export type SignResult =
  | {
      readonly ok: true;
      /** Leaf, then intermediates, then one element holding every trusted root (Istio's order). */
      readonly certChain: readonly string[];
      /** Lower-case hex. */
      readonly serialNumber: string;
      readonly notAfter: Date;
    }
  | { readonly ok: false; readonly reason: SignRefusalReason; readonly message: string };

/** A certificate with its key, PEM (the key PKCS#8), for a TLS listener. */
export interface ServingCertificate {
  /** Leaf first, then intermediates. */
  readonly certChainPem: string;
  readonly keyPem: string;
}

export interface ServingNames {
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
}

interface LeafRequest {
  readonly publicKey: x509.PublicKey | webcrypto.CryptoKey;
  readonly names: x509.JsonGeneralNames;
  readonly ttlSeconds: number;
  readonly extendedKeyUsages: readonly x509.ExtendedKeyUsage[];
}

/**
 * Signs workload certificates the way istiod's CA does: empty subject, exactly one critical URI
 * SAN with the SPIFFE id, CA:false, digitalSignature + keyEncipherment, serverAuth + clientAuth.
 * It checks what it signs (CSR proof of possession, SAN = the identity granted, lifetime), but not
 * who asks: the caller has authorized `identity` before calling `sign` (see authz.ts).
 */
export class CertificateAuthority {
  /** PEM of each trusted root, unique by fingerprint; the signing root first. */
  private readonly roots: string[] = [];
  private readonly rootFingerprints = new Set<string>();

  private constructor(
    private readonly material: SigningMaterial,
    private readonly signingKey: webcrypto.CryptoKey,
    private readonly signingAlgorithm: webcrypto.Algorithm,
    private readonly issuerName: x509.Name,
    private readonly authorityKeyIdentifier: x509.AuthorityKeyIdentifierExtension,
    readonly defaultTtlSeconds: number,
    readonly maxTtlSeconds: number,
  ) {
    for (const pem of [...material.rootPems, ...material.additionalRootPems]) this.trust(pem);
  }

  static async create(
    material: SigningMaterial,
    options: CertificateAuthorityOptions = {},
  ): Promise<CertificateAuthority> {
    const defaultTtlSeconds = options.defaultTtlSeconds ?? DEFAULT_WORKLOAD_CERT_TTL_SECONDS;
    const maxTtlSeconds = options.maxTtlSeconds ?? MAX_WORKLOAD_CERT_TTL_SECONDS;
    if (!(
      Number.isInteger(defaultTtlSeconds) &&
      defaultTtlSeconds > 0 &&
      defaultTtlSeconds <= maxTtlSeconds
    )) {
      throw new RangeError(
        `the default certificate lifetime (${String(defaultTtlSeconds)} s) must be a positive whole number of seconds no longer than the maximum (${String(maxTtlSeconds)} s)`,
      );
    }
    const { signingKey, signingAlgorithm } = importSigningKey(material.caKey);
    const caCert = new x509.X509Certificate(material.caCert.raw);
    // RFC 5280: a leaf's authority key id is its issuer's subject key id, when the issuer has one.
    const issuerKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    const authorityKeyIdentifier =
      issuerKeyId === undefined
        ? await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, webcrypto)
        : new x509.AuthorityKeyIdentifierExtension(issuerKeyId, false);
    return new CertificateAuthority(
      material,
      signingKey,
      signingAlgorithm,
      caCert.subjectName,
      authorityKeyIdentifier,
      defaultTtlSeconds,
      maxTtlSeconds,
    );
  }

  /** Every trusted root, concatenated: the last element of each response, and root-cert.pem. */
  get trustBundle(): string {
    return this.roots.join('');
  }

  get trustedRoots(): readonly string[] {
    return [...this.roots];
  }

  /**
   * Trust one more root (and hand it to every workload from now on) without signing with it: the
   * first step of a root rotation. Throws MeshError(CaMaterialInvalid) for anything but a CA
   * certificate; a root already trusted is ignored.
   */
  addTrustedRoot(pem: string): void {
    const blocks = splitPemCertificates(pem);
    if (blocks.length !== 1 || blocks[0] === undefined) {
      throw new MeshError(
        ErrorCode.CaMaterialInvalid,
        `a trusted root must be one PEM certificate, got ${String(blocks.length)}`,
      );
    }
    const cert = parseCertificate(blocks[0]);
    if (typeof cert === 'string')
      throw new MeshError(ErrorCode.CaMaterialInvalid, `unreadable root certificate: ${cert}`);
    const problems = caCertificateProblems(cert, { signsNow: false });
    if (problems.length > 0)
      throw new MeshError(ErrorCode.CaMaterialInvalid, `not a usable root: ${problems.join('; ')}`);
    this.trust(blocks[0]);
  }

  /**
   * Signs a workload certificate for `identity` (a SPIFFE id the caller is allowed to have) from
   * a PEM CSR whose only URI SAN is that same id. `ttlSeconds` undefined means the default; zero,
   * negative, fractional or above the maximum is refused. Refusals are values, never throws.
   */
  async sign(csrPem: string, identity: string, ttlSeconds?: number): Promise<SignResult> {
    const ttl = ttlSeconds ?? this.defaultTtlSeconds;
    if (!Number.isInteger(ttl) || ttl <= 0 || ttl > this.maxTtlSeconds) {
      return {
        ok: false,
        reason: 'ttl-invalid',
        message: `requested lifetime ${String(ttl)} s is not in (0, ${String(this.maxTtlSeconds)}] s`,
      };
    }
    const checked = await checkCsr(csrPem);
    if (!checked.ok) return { ok: false, reason: 'csr-invalid', message: checked.reason };
    if (checked.csr.identityUri !== identity) {
      return {
        ok: false,
        reason: 'identity-mismatch',
        message: `the CSR asks for "${checked.csr.identityUri}" but the certificate is for "${identity}"`,
      };
    }
    const leaf = await this.issue({
      publicKey: checked.csr.publicKey,
      names: [{ type: 'url', value: identity }],
      ttlSeconds: ttl,
      extendedKeyUsages: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    });
    return {
      ok: true,
      certChain: [
        withTrailingNewline(leaf.toString('pem')),
        ...this.material.intermediatePems,
        this.trustBundle,
      ],
      serialNumber: leaf.serialNumber.toLowerCase(),
      notAfter: leaf.notAfter,
    };
  }

  /** A certificate for the CA's own gRPC listener (istiod's DNS names, the listen IP), with a fresh key. */
  async issueServingCertificate(names: ServingNames): Promise<ServingCertificate> {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    const leaf = await this.issue({
      publicKey: keys.publicKey,
      names: [
        ...names.dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...names.ips.map((value) => ({ type: 'ip' as const, value })),
      ],
      ttlSeconds: SERVING_CERT_TTL_SECONDS,
      extendedKeyUsages: [x509.ExtendedKeyUsage.serverAuth],
    });
    return {
      certChainPem: [withTrailingNewline(leaf.toString('pem')), ...this.material.intermediatePems].join(''),
      keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    };
  }

  private async issue(request: LeafRequest): Promise<x509.X509Certificate> {
    const now = Date.now();
    // A leaf that outlives its issuer stops verifying when the issuer expires: say so in the leaf.
    const notAfterMs = Math.min(now + request.ttlSeconds * 1000, this.material.caCert.validToDate.getTime());
    return x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        // Empty, as istiod's leaves: the identity is the SAN, which RFC 5280 then makes critical.
        subject: [],
        issuer: this.issuerName,
        notBefore: new Date(now - CLOCK_SKEW_MS),
        notAfter: new Date(notAfterMs),
        publicKey: request.publicKey,
        signingKey: this.signingKey,
        signingAlgorithm: this.signingAlgorithm,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
            true,
          ),
          new x509.ExtendedKeyUsageExtension([...request.extendedKeyUsages]),
          this.authorityKeyIdentifier,
          new x509.SubjectAlternativeNameExtension(request.names, true),
        ],
      },
      webcrypto,
    );
  }

  private trust(pem: string): void {
    const cert = parseCertificate(pem);
    const fingerprint = typeof cert === 'string' ? pem : cert.fingerprint256;
    if (this.rootFingerprints.has(fingerprint)) return;
    this.rootFingerprints.add(fingerprint);
    this.roots.push(withTrailingNewline(pem));
  }
}
