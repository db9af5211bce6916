import { createPrivateKey, KeyObject, webcrypto, type X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, MeshError, errorMessage } from '@ambient/core';
import { x509 } from '../x509.js';
import { isIssuedBy, parseCertificate, splitPemCertificates, withTrailingNewline } from './pem.js';
import { writeAtomically } from './files.js';
import { CLOCK_SKEW_MS, randomSerial } from './serial.js';
import { describeSigningKey } from './signing-key.js';

/** Istio's plug-in CA layout (the `cacerts` secret), file by file. */
export const CA_CERT_FILE = 'ca-cert.pem';
export const CA_KEY_FILE = 'ca-key.pem';
export const CA_ROOT_CERT_FILE = 'root-cert.pem';
export const CA_CERT_CHAIN_FILE = 'cert-chain.pem';
/** Ours: roots to trust before they sign anything, so a root rotation can reach every workload first. */
export const ADDITIONAL_ROOTS_FILE = 'additional-roots.pem';

/** Istio's self-signed root lives ten years (CITADEL_SELF_SIGNED_CA_CERT_TTL = 3650 days). */
const SELF_SIGNED_ROOT_TTL_MS = 3650 * 24 * 3_600_000;
/** Only the CA reads its key. */
const KEY_FILE_MODE = 0o600;
const STATE_DIR_MODE = 0o700;

/** What a CA signs with, checked: the key matches the certificate and the chain reaches a root. */
export interface SigningMaterial {
  /** The folder it came from, for logs. */
  readonly dir: string;
  /** The certificate whose key signs leaves: an intermediate, or the root itself. */
  readonly caCert: X509Certificate;
  readonly caCertPem: string;
  readonly caKey: KeyObject;
  /** What a leaf's chain carries between the leaf and the roots, issuer first; empty when ca-cert is a root. */
  readonly intermediatePems: readonly string[];
  /** The trust roots (root-cert.pem). */
  readonly rootPems: readonly string[];
  /** Further roots to trust (additional-roots.pem), for rotation. */
  readonly additionalRootPems: readonly string[];
}

export interface SelfSignedOptions {
  /** The root's organization, as istiod names its self-signed root. Default 'cluster.local'. */
  readonly trustDomain?: string;
}

/** The texts of one layout and the path each came from; missing optional files are undefined. */
interface MaterialTexts {
  readonly dir: string;
  readonly caCert: string | undefined;
  readonly caKey: string | undefined;
  /** root-cert.pem, or 'self' when ca-cert.pem is a self-signed root and its own trust root. */
  readonly roots: { readonly text: string | undefined; readonly path: string } | 'self';
  readonly chain: string | undefined;
  readonly additionalRoots: string | undefined;
}

/**
 * Loads and checks an Istio plug-in folder: ca-cert.pem, ca-key.pem, root-cert.pem, and
 * optionally cert-chain.pem (ca-cert first, then up towards the root) and additional-roots.pem.
 * Throws MeshError(CaMaterialInvalid) naming every problem and its file.
 */
export async function loadSigningMaterial(dir: string): Promise<SigningMaterial> {
  const problems: string[] = [];
  const rootsPath = join(dir, CA_ROOT_CERT_FILE);
  const texts: MaterialTexts = {
    dir,
    caCert: await readText(join(dir, CA_CERT_FILE), problems),
    caKey: await readText(join(dir, CA_KEY_FILE), problems),
    roots: { text: await readText(rootsPath, problems), path: rootsPath },
    chain: await readText(join(dir, CA_CERT_CHAIN_FILE), problems, { optional: true }),
    additionalRoots: await readText(join(dir, ADDITIONAL_ROOTS_FILE), problems, { optional: true }),
  };
  return checkMaterial(texts, problems);
}

/**
 * The CA's own root when no plug-in folder is given: created once (ECDSA P-256, self-signed,
 * ten years) and kept in `stateDir` (key mode 0600), so a restart signs with the same root and
 * every certificate issued before it still verifies. One CA process per state folder.
 */
export async function loadOrCreateSelfSigned(
  stateDir: string,
  options: SelfSignedOptions = {},
): Promise<SigningMaterial> {
  const certPath = join(stateDir, CA_CERT_FILE);
  const problems: string[] = [];
  let caCert = await readText(certPath, problems, { optional: true });
  if (caCert === undefined) {
    await createSelfSigned(stateDir, options.trustDomain ?? 'cluster.local');
    caCert = await readText(certPath, problems);
  }
  const texts: MaterialTexts = {
    dir: stateDir,
    caCert,
    caKey: await readText(join(stateDir, CA_KEY_FILE), problems),
    // The root signs for itself; root-cert.pem in this folder is our output, never our input.
    roots: 'self',
    chain: undefined,
    additionalRoots: await readText(join(stateDir, ADDITIONAL_ROOTS_FILE), problems, { optional: true }),
  };
  return checkMaterial(texts, problems);
}

function checkMaterial(texts: MaterialTexts, problems: string[]): SigningMaterial {
  const { dir } = texts;
  const problem = (file: string, what: string): void => {
    problems.push(`${file}: ${what}`);
  };
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const chainPath = join(dir, CA_CERT_CHAIN_FILE);

  const caCerts = texts.caCert === undefined ? [] : certificates(texts.caCert, certPath, problems);
  if (caCerts.length > 1) problem(certPath, `expected one certificate, found ${String(caCerts.length)}`);
  const caCert = caCerts.length === 1 ? caCerts[0] : undefined;
  if (caCert !== undefined) checkCaCertificate(caCert, certPath, problems, { signsNow: true });

  let caKey: KeyObject | undefined;
  if (texts.caKey !== undefined) {
    try {
      caKey = createPrivateKey(texts.caKey);
    } catch (err) {
      problem(keyPath, `not a readable private key: ${errorMessage(err)}`);
    }
  }
  if (caKey !== undefined) {
    const unsupported = describeSigningKey(caKey).unsupported;
    if (unsupported !== undefined) problem(keyPath, unsupported);
    else if (caCert !== undefined && !caCert.checkPrivateKey(caKey)) {
      problem(keyPath, `the key does not belong to the certificate in ${certPath}`);
    }
  }

  const rootsPath = texts.roots === 'self' ? certPath : texts.roots.path;
  let roots = caCerts;
  // A self-signed root is its own trust root, already checked above as the signing certificate.
  if (texts.roots === 'self') {
    if (caCert !== undefined && !isIssuedBy(caCert, caCert)) problem(certPath, 'is not a self-signed root');
  } else {
    roots = texts.roots.text === undefined ? [] : certificates(texts.roots.text, rootsPath, problems);
    for (const root of roots) checkCaCertificate(root, rootsPath, problems, { signsNow: false });
  }
  const additionalPath = join(dir, ADDITIONAL_ROOTS_FILE);
  const additionalRoots =
    texts.additionalRoots === undefined ? [] : certificates(texts.additionalRoots, additionalPath, problems);
  for (const root of additionalRoots) checkCaCertificate(root, additionalPath, problems, { signsNow: false });

  // The chain a leaf carries: ca-cert, then whatever leads from it towards a root.
  let chain: X509Certificate[] = caCert === undefined ? [] : [caCert];
  if (texts.chain !== undefined && caCert !== undefined) {
    const listed = certificates(texts.chain, chainPath, problems);
    if (listed[0] !== undefined && listed[0].fingerprint256 !== caCert.fingerprint256) {
      problem(chainPath, `must start with the certificate in ${certPath}`);
    } else if (listed.length > 0) {
      chain = listed;
    }
    for (let i = 0; i + 1 < chain.length; i++) {
      const child = chain[i];
      const parent = chain[i + 1];
      if (child !== undefined && parent !== undefined && !isIssuedBy(child, parent)) {
        problem(chainPath, `certificate ${String(i + 1)} is not signed by certificate ${String(i + 2)}`);
      }
    }
  }
  const rootFingerprints = new Set(roots.map((root) => root.fingerprint256));
  const top = chain.at(-1);
  if (top !== undefined && roots.length > 0) {
    const reachesRoot =
      rootFingerprints.has(top.fingerprint256) || roots.some((root) => isIssuedBy(top, root));
    if (!reachesRoot) {
      const from = texts.chain === undefined ? certPath : chainPath;
      problem(from, `does not lead to any certificate in ${rootsPath}`);
    }
  }

  if (problems.length > 0 || caCert === undefined || caKey === undefined) {
    throw new MeshError(
      ErrorCode.CaMaterialInvalid,
      `${dir}: the CA signing material is unusable (${String(problems.length)} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`,
    );
  }
  return {
    dir,
    caCert,
    caCertPem: withTrailingNewline(caCert.toString()),
    caKey,
    intermediatePems: chain
      .filter((cert) => !rootFingerprints.has(cert.fingerprint256))
      .map((cert) => withTrailingNewline(cert.toString())),
    rootPems: roots.map((root) => withTrailingNewline(root.toString())),
    additionalRootPems: additionalRoots.map((root) => withTrailingNewline(root.toString())),
  };
}

/**
 * A trust root or a signing certificate must be a CA allowed to sign certificates. Only the
 * signing certificate must be valid now: an expired root still in a bundle is harmless.
 */
export function caCertificateProblems(cert: X509Certificate, options: { signsNow: boolean }): string[] {
  const problems: string[] = [];
  const name = `"${cert.subject.replaceAll('\n', ', ') || '(empty subject)'}"`;
  if (!cert.ca) problems.push(`${name} is not a CA certificate (basicConstraints CA:TRUE missing)`);
  const keyUsage = new x509.X509Certificate(cert.raw).getExtension(x509.KeyUsagesExtension);
  if (keyUsage !== null && (keyUsage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    problems.push(`${name} may not sign certificates (keyUsage lacks keyCertSign)`);
  }
  if (options.signsNow) {
    const now = Date.now();
    if (cert.validToDate.getTime() <= now) problems.push(`${name} expired on ${cert.validTo}`);
    if (cert.validFromDate.getTime() > now) problems.push(`${name} is not valid before ${cert.validFrom}`);
  }
  return problems;
}

function checkCaCertificate(
  cert: X509Certificate,
  path: string,
  problems: string[],
  options: { signsNow: boolean },
): void {
  for (const what of caCertificateProblems(cert, options)) problems.push(`${path}: ${what}`);
}

function certificates(text: string, path: string, problems: string[]): X509Certificate[] {
  const blocks = splitPemCertificates(text);
  if (blocks.length === 0) problems.push(`${path}: holds no PEM certificate`);
  const parsed: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    const cert = parseCertificate(block);
    if (typeof cert === 'string')
      problems.push(`${path}: certificate ${String(i + 1)} is unreadable: ${cert}`);
    else parsed.push(cert);
  }
  return parsed;
}

async function readText(
  path: string,
  problems: string[],
  options: { optional?: boolean } = {},
): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (!(missing && options.optional === true)) problems.push(`${path}: cannot read: ${errorMessage(err)}`);
    return undefined;
  }
}

async function createSelfSigned(stateDir: string, trustDomain: string): Promise<void> {
  const crypto = webcrypto;
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const now = Date.now();
  const name: x509.JsonName = [{ O: [trustDomain] }];
  const root = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: name,
      issuer: name,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + SELF_SIGNED_ROOT_TTL_MS),
      publicKey: keys.publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  await mkdir(stateDir, { recursive: true, mode: STATE_DIR_MODE });
  // Key first, certificate last: the certificate's presence is what says "a root exists here", so
  // a crash in between leaves a folder that is simply created again on the next start.
  await writeAtomically(join(stateDir, CA_KEY_FILE), keyPem, KEY_FILE_MODE);
  await writeAtomically(join(stateDir, CA_CERT_FILE), withTrailingNewline(root.toString('pem')), 0o644);
}
