// Shared by the CA's tests: CSRs as ztunnel makes them, operator PKIs, a running CA and a client.
import { KeyObject, webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { createLogger, type Logger } from '@ambient/core';
import { ca } from '@ambient/protos';
import { x509 } from '../x509.js';
import { CertificateAuthority, type CertificateAuthorityOptions } from './authority.js';
import { StaticTokenAuthenticator, type StaticToken } from './authn.js';
import type { WorkloadDirectory } from './authz.js';
import { randomSerial } from './serial.js';
import { startCaServer, type CaServer } from './server.js';
import type { SigningMaterial } from './signing-material.js';

const crypto = webcrypto;
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' };
const HOUR_MS = 3_600_000;

export function spiffeId(namespace: string, serviceAccount: string, trustDomain = 'cluster.local'): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
}

export function pkcs8Pem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

export interface CsrOptions {
  /** URI SANs; default none. */
  readonly uris?: readonly string[];
  readonly dnsNames?: readonly string[];
  /** Signed by a key other than the one it carries: no proof of possession. */
  readonly forgedSignature?: boolean;
}

/** A CSR as ztunnel makes one: fresh ECDSA P-256 key, empty subject, critical SAN, SHA-256. */
export async function makeCsr(options: CsrOptions): Promise<{ csrPem: string; keyPem: string }> {
  const keys = await generateKeys();
  const names: x509.JsonGeneralNames = [
    ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  const signingKeys =
    options.forgedSignature === true
      ? { publicKey: keys.publicKey, privateKey: (await generateKeys()).privateKey }
      : keys;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      keys: signingKeys,
      signingAlgorithm: ECDSA_SHA256,
      extensions: names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, true)] : [],
    },
    crypto,
  );
  return { csrPem: csr.toString('pem'), keyPem: pkcs8Pem(keys.privateKey) };
}

export interface TestCertificate {
  readonly certificate: x509.X509Certificate;
  readonly pem: string;
  readonly keys: webcrypto.CryptoKeyPair;
  readonly keyPem: string;
}

export interface CertificateOptions {
  readonly commonName: string;
  /** Default: self-signed. */
  readonly issuer?: TestCertificate;
  /** Default true. */
  readonly ca?: boolean;
  readonly notAfter?: Date;
}

/** A CA (or, with `ca: false`, an end-entity) certificate for building operator PKIs. */
export async function makeCertificate(options: CertificateOptions): Promise<TestCertificate> {
  const keys = await generateKeys();
  const isCa = options.ca ?? true;
  const name: x509.JsonName = [{ O: ['ambient tests'] }, { CN: [options.commonName] }];
  const issuerKeys = options.issuer?.keys ?? keys;
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: name,
      issuer: options.issuer?.certificate.subjectName ?? name,
      notBefore: new Date(Date.now() - HOUR_MS),
      notAfter: options.notAfter ?? new Date(Date.now() + 10 * 24 * HOUR_MS),
      publicKey: keys.publicKey,
      signingKey: issuerKeys.privateKey,
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(isCa, undefined, true),
        isCa
          ? new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)
          : new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certificate, pem: certificate.toString('pem') + '\n', keys, keyPem: pkcs8Pem(keys.privateKey) };
}

export interface OperatorPki {
  readonly root: TestCertificate;
  readonly intermediate: TestCertificate;
}

/** An operator's root and intermediate, written as Istio's plug-in folder (cacerts). */
export async function writeOperatorPki(dir: string): Promise<OperatorPki> {
  const root = await makeCertificate({ commonName: 'Operator Root CA' });
  const intermediate = await makeCertificate({ commonName: 'Operator Intermediate CA', issuer: root });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'ca-cert.pem'), intermediate.pem);
  await writeFile(join(dir, 'ca-key.pem'), intermediate.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'root-cert.pem'), root.pem);
  await writeFile(join(dir, 'cert-chain.pem'), intermediate.pem + root.pem);
  return { root, intermediate };
}

/** A logger whose lines the test can read. */
export function collectingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

/** A directory from a fixed table: node → identities of the workloads on it. */
export function fixedWorkloads(byNode: Readonly<Record<string, readonly string[]>>): WorkloadDirectory {
  return { identitiesOnNode: (node) => new Set(byNode[node] ?? []) };
}

export interface RunningCa {
  readonly authority: CertificateAuthority;
  readonly server: CaServer;
  readonly lines: Record<string, unknown>[];
  /** The address a client dials. */
  readonly target: string;
}

export interface RunningCaOptions {
  readonly material: SigningMaterial;
  readonly tokens: readonly StaticToken[];
  readonly workloads?: WorkloadDirectory;
  readonly host: string;
  readonly authority?: CertificateAuthorityOptions;
}

export async function startTestCa(options: RunningCaOptions): Promise<RunningCa> {
  const { logger, lines } = collectingLogger();
  const authority = await CertificateAuthority.create(options.material, options.authority);
  const server = await startCaServer({
    host: options.host,
    port: 0,
    authority,
    authenticator: new StaticTokenAuthenticator(options.tokens),
    workloads: options.workloads ?? fixedWorkloads({}),
    logger,
  });
  return { authority, server, lines, target: `${options.host}:${String(server.port)}` };
}

export interface CertificateCall {
  readonly csr: string;
  readonly validityDuration: number;
  readonly token?: string;
  readonly impersonate?: string;
}

/**
 * One CreateCertificate call as ztunnel makes it, over TLS verified against `rootsPem` with the
 * server name istiod.istio-system.svc. Resolves with the chain or the gRPC error.
 */
export async function requestCertificate(
  target: string,
  rootsPem: string,
  call: CertificateCall,
): Promise<{ ok: true; certChain: string[] } | { ok: false; error: grpc.ServiceError }> {
  const client = new ca.IstioCertificateServiceClient(
    target,
    grpc.credentials.createSsl(Buffer.from(rootsPem)),
    {
      'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
    },
  );
  const metadata = new grpc.Metadata();
  if (call.token !== undefined) metadata.set('authorization', `Bearer ${call.token}`);
  metadata.set('clusterid', 'Kubernetes');
  try {
    return await new Promise((resolve) => {
      client.createCertificate(
        {
          csr: call.csr,
          validityDuration: call.validityDuration,
          ...(call.impersonate === undefined ? {} : { metadata: { ImpersonatedIdentity: call.impersonate } }),
        },
        metadata,
        (error, response) => {
          resolve(error === null ? { ok: true, certChain: response.certChain } : { ok: false, error });
        },
      );
    });
  } finally {
    client.close();
  }
}
