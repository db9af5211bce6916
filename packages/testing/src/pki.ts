import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { x509 } from './pki-x509.js';

/** What a workload receives, in the shape `WorkloadCertificate.fromPem` takes, plus the bare leaf. */
export interface IssuedCertificate {
  /** Leaf first, then the intermediate (never the root). */
  certChainPem: string;
  /** PKCS#8. */
  keyPem: string;
  rootsPem: string;
  certPem: string;
}

export interface TestPkiOptions {
  /** Default 'cluster.local', Istio's. */
  trustDomain?: string;
  /** Issue leaves from an intermediate under the root (default true), as a real mesh CA often does. */
  intermediate?: boolean;
  rootNotAfter?: Date;
}

export interface IssueOptions {
  /** A full URI (used verbatim, so malformed ids can be made), or a workload of this PKI's trust domain. */
  identity: string | { namespace: string; serviceAccount: string };
  /** Default an hour ago, so clock skew between test processes never matters. */
  notBefore?: Date;
  /** Default 24 hours from now (Istio's SECRET_TTL); set it in the past for an expired certificate. */
  notAfter?: Date;
  extraUris?: string[];
  dnsNames?: string[];
  /** Issue a leaf without the SPIFFE URI SAN. */
  omitSpiffeSan?: boolean;
}

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' };
const HOUR_MS = 3_600_000;
const LEAF_TTL_MS = 24 * HOUR_MS;
const ROOT_TTL_MS = 10 * 365 * 24 * HOUR_MS;
/** 128 random bits, as CAs do, so no two test certificates share a serial. */
const SERIAL_BYTES = 16;
const DEFAULT_TRUST_DOMAIN = 'cluster.local';

const crypto = webcrypto;

interface Authority {
  readonly certificate: x509.X509Certificate;
  readonly keys: webcrypto.CryptoKeyPair;
}

/**
 * A throwaway certificate authority for tests and the local demo: ECDSA P-256 keys, SHA-256
 * signatures, and leaves shaped like the ones istiod's CA issues (empty subject, one critical
 * URI SAN with the SPIFFE id, serverAuth + clientAuth).
 */
export class TestPki {
  private constructor(
    readonly trustDomain: string,
    readonly rootCertPem: string,
    private readonly issuer: Authority,
    /** PEM of the intermediate when there is one, appended to each chain. */
    private readonly chainTailPem: string,
  ) {}

  static async create(options: TestPkiOptions = {}): Promise<TestPki> {
    const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    const now = Date.now();
    const notBefore = new Date(now - HOUR_MS);
    const notAfter = options.rootNotAfter ?? new Date(now + ROOT_TTL_MS);
    // A random tag keeps two PKIs of one trust domain apart: equal CA names would let OpenSSL try
    // the wrong issuer and report a confusing error in "untrusted CA" tests.
    const tag = randomBytes(4).toString('hex');

    const rootKeys = await generateKeys();
    const rootName: x509.JsonName = [{ O: [trustDomain] }, { CN: [`Test Root CA ${tag}`] }];
    const root = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: rootName,
        issuer: rootName,
        notBefore,
        notAfter,
        publicKey: rootKeys.publicKey,
        signingKey: rootKeys.privateKey,
        signingAlgorithm: SIGNING_ALGORITHM,
        extensions: await caExtensions(rootKeys.publicKey, rootKeys.publicKey),
      },
      crypto,
    );
    const rootAuthority = { certificate: root, keys: rootKeys };
    const rootPem = pemOf(root);
    if (options.intermediate === false) return new TestPki(trustDomain, rootPem, rootAuthority, '');

    const intermediateKeys = await generateKeys();
    const intermediate = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: [{ O: [trustDomain] }, { CN: [`Test Intermediate CA ${tag}`] }],
        issuer: root.subject,
        notBefore,
        notAfter,
        publicKey: intermediateKeys.publicKey,
        signingKey: rootKeys.privateKey,
        signingAlgorithm: SIGNING_ALGORITHM,
        extensions: await caExtensions(intermediateKeys.publicKey, rootKeys.publicKey),
      },
      crypto,
    );
    return new TestPki(
      trustDomain,
      rootPem,
      { certificate: intermediate, keys: intermediateKeys },
      pemOf(intermediate),
    );
  }

  async issue(options: IssueOptions): Promise<IssuedCertificate> {
    const keys = await generateKeys();
    const signed = await this.issueForKey(keys.publicKey, options);
    return {
      ...signed,
      keyPem: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string,
    };
  }

  /** Like `issue`, for a key someone else holds (the public key of a CSR). */
  async issueForKey(
    publicKey: webcrypto.CryptoKey,
    options: IssueOptions,
  ): Promise<Omit<IssuedCertificate, 'keyPem'>> {
    const now = Date.now();
    const spiffeId =
      typeof options.identity === 'string'
        ? options.identity
        : `spiffe://${this.trustDomain}/ns/${options.identity.namespace}/sa/${options.identity.serviceAccount}`;
    const names: x509.JsonGeneralNames = [
      ...(options.omitSpiffeSan === true ? [] : [spiffeId]),
      ...(options.extraUris ?? []),
    ].map((value) => ({ type: 'url', value }));
    for (const dnsName of options.dnsNames ?? []) names.push({ type: 'dns', value: dnsName });

    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(this.issuer.keys.publicKey, false, crypto),
    ];
    // Istio's leaves have an empty subject, so RFC 5280 makes the SAN critical. A leaf with no SAN
    // at all gets a subject instead, or it would name nothing.
    if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, true));
    const leaf = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerial(),
        subject: names.length > 0 ? [] : [{ CN: ['no subject alternative names'] }],
        issuer: this.issuer.certificate.subject,
        notBefore: options.notBefore ?? new Date(now - HOUR_MS),
        notAfter: options.notAfter ?? new Date(now + LEAF_TTL_MS),
        publicKey,
        signingKey: this.issuer.keys.privateKey,
        signingAlgorithm: SIGNING_ALGORITHM,
        extensions,
      },
      crypto,
    );
    const certPem = pemOf(leaf);
    return { certChainPem: certPem + this.chainTailPem, rootsPem: this.rootCertPem, certPem };
  }

  /** Writes <dir>/root-cert.pem and <dir>/workloads/<ns>/<sa>/{cert-chain.pem,key.pem} for each identity. */
  async writeCertificateDir(
    dir: string,
    identities: readonly { namespace: string; serviceAccount: string }[],
  ): Promise<void> {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'root-cert.pem'), this.rootCertPem);
    for (const { namespace, serviceAccount } of identities) {
      const issued = await this.issue({ identity: { namespace, serviceAccount } });
      const workloadDir = join(dir, 'workloads', namespace, serviceAccount);
      await mkdir(workloadDir, { recursive: true });
      await writeFile(join(workloadDir, 'cert-chain.pem'), issued.certChainPem);
      const keyPath = join(workloadDir, 'key.pem');
      await writeFile(keyPath, issued.keyPem, { mode: 0o600 });
      // `mode` applies only when the file is created; an overwritten key keeps its old mode.
      await chmod(keyPath, 0o600);
    }
  }
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function caExtensions(
  subjectKey: webcrypto.CryptoKey,
  issuerKey: webcrypto.CryptoKey,
): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(subjectKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(issuerKey, false, crypto),
  ];
}

/** A positive DER integer: the top bit clear, and the first byte non-zero so it is not re-encoded. */
function randomSerial(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function pemOf(certificate: x509.X509Certificate): string {
  const pem = certificate.toString('pem');
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}
