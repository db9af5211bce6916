import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { ErrorCode, MeshError, errorMessage } from '@ambient/core';
import { ca } from '@ambient/protos';
import type { CertificateMaterial } from './certificate.js';
import { createCsr } from './csr.js';
import { firstIdentity, formatIdentity, urisFromSubjectAltName } from './spiffe.js';

export interface CaClientOptions {
  /** `host:port` of the CA (istiod's is `istiod.istio-system.svc:15012`). */
  address: string;
  /** PEM roots that the CA's serving certificate must chain to. */
  rootCertPem: string;
  /** A file holding the bearer token (Kubernetes projected token, audience `istio-ca`); re-read per request. */
  tokenPath?: string;
  /** Sent as the `clusterid` header: istiod picks the cluster that reviews the token by it. */
  clusterId?: string;
  /** The name the CA's certificate must carry (a DNS SAN). */
  serverName?: string;
  /**
   * Shared (node proxy) mode: ask for another workload's identity through the
   * `ImpersonatedIdentity` metadata, as ztunnel does; istiod authorizes it by node.
   */
  impersonate: boolean;
  /** More gRPC headers on every request (ztunnel's `CA_HEADER_*`). */
  extraHeaders?: Record<string, string>;
  /** Deadline of one CreateCertificate call. */
  requestTimeoutMs?: number;
}

export const DEFAULT_CA_SERVER_NAME = 'istiod.istio-system.svc';
/** Istio's node agent gives a whole credential fetch 10 s; a CSR that takes longer is retried. */
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const IMPERSONATED_IDENTITY_KEY = 'ImpersonatedIdentity';
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Istio's certificate service client (`istio.v1.auth.IstioCertificateService/CreateCertificate`):
 * one CSR per call with a fresh key, over one TLS gRPC channel. Every failure is
 * MeshError(CaRequestFailed) except a malformed identity (IdentityInvalid), which no retry fixes.
 */
export class CaClient {
  private readonly client: ca.IstioCertificateServiceClient;
  private readonly requestTimeoutMs: number;
  /** The headers every request carries; built once so that a bad header name fails at startup. */
  private readonly fixedHeaders = new Metadata();

  constructor(private readonly options: CaClientOptions) {
    const serverName = options.serverName ?? DEFAULT_CA_SERVER_NAME;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (options.clusterId !== undefined) this.fixedHeaders.set('clusterid', options.clusterId);
    for (const [name, value] of Object.entries(options.extraHeaders ?? {}))
      this.fixedHeaders.set(name, value);
    this.client = new ca.IstioCertificateServiceClient(
      options.address,
      credentials.createSsl(Buffer.from(options.rootCertPem)),
      {
        // We dial an address, but the CA's certificate names its service: check that name instead.
        'grpc.ssl_target_name_override': serverName,
        'grpc.default_authority': serverName,
      },
    );
  }

  /** A new key and certificate for `identityUri`, valid for `ttlSeconds` unless the CA shortens it. */
  async fetchCertificate(identityUri: string, ttlSeconds: number): Promise<CertificateMaterial> {
    const { csrPem, keyPem } = await createCsr(identityUri);
    const request: ca.IstioCertificateRequest = {
      csr: csrPem,
      validityDuration: ttlSeconds,
      metadata: this.options.impersonate ? { [IMPERSONATED_IDENTITY_KEY]: identityUri } : undefined,
    };
    const certChain = await this.createCertificate(
      identityUri,
      request,
      await this.requestMetadata(identityUri),
    );
    return { ...splitCertChain(identityUri, certChain), keyPem };
  }

  close(): void {
    this.client.close();
  }

  private async requestMetadata(identityUri: string): Promise<Metadata> {
    const metadata = this.fixedHeaders.clone();
    // Re-read every time: the kubelet rotates projected tokens in place.
    if (this.options.tokenPath !== undefined) {
      metadata.set('authorization', `Bearer ${await readToken(identityUri, this.options.tokenPath)}`);
    }
    return metadata;
  }

  private createCertificate(
    identityUri: string,
    request: ca.IstioCertificateRequest,
    metadata: Metadata,
  ): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.client.createCertificate(
        request,
        metadata,
        { deadline: Date.now() + this.requestTimeoutMs },
        (err: ServiceError | null, response) => {
          if (err === null) {
            resolve(response.certChain);
            return;
          }
          reject(
            caError(
              identityUri,
              `CA ${this.options.address} answered ${statusName(err.code)}: ${err.details}`,
              err,
            ),
          );
        },
      );
    });
  }
}

async function readToken(identityUri: string, tokenPath: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(tokenPath, 'utf8')).trim();
  } catch (err) {
    throw caError(identityUri, `cannot read the CA token ${tokenPath}: ${errorMessage(err)}`, err);
  }
  if (token === '') throw caError(identityUri, `the CA token ${tokenPath} is empty`);
  return token;
}

/**
 * The response's chain, checked and cut the way ztunnel does: leaf first, intermediates next, and
 * the last element the trust roots (possibly several concatenated). The leaf must name exactly
 * the identity we asked for, so that a confused or compromised CA cannot hand one workload's
 * traffic another's identity.
 */
function splitCertChain(
  identityUri: string,
  certChain: readonly string[],
): Omit<CertificateMaterial, 'keyPem'> {
  const leafPem = certChain[0];
  const rootsPem = certChain.at(-1);
  if (leafPem === undefined || rootsPem === undefined || certChain.length < 2) {
    throw caError(
      identityUri,
      `the CA returned ${certChain.length} certificate(s); a leaf and its roots are needed`,
    );
  }
  for (const [index, pem] of certChain.entries()) {
    if ((pem.match(PEM_CERTIFICATE) ?? []).length === 0) {
      throw caError(identityUri, `element ${index} of the CA's certificate chain holds no PEM certificate`);
    }
  }

  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
  } catch (err) {
    throw caError(identityUri, `the CA returned an unreadable leaf certificate: ${errorMessage(err)}`, err);
  }
  const issued = firstIdentity(urisFromSubjectAltName(leaf.subjectAltName ?? ''));
  const issuedUri = issued === undefined ? undefined : formatIdentity(issued);
  if (issuedUri !== identityUri) {
    throw caError(identityUri, `the CA issued a certificate for ${issuedUri ?? 'no SPIFFE identity'}`);
  }

  const chainPems = certChain.slice(0, -1).map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`));
  return { certChainPem: chainPems.join(''), rootsPem };
}

function statusName(code: number): string {
  // A server may send a code this grpc-js does not know.
  const name: string | undefined = status[code];
  return name ?? String(code);
}

function caError(identityUri: string, message: string, cause?: unknown): MeshError {
  return new MeshError(ErrorCode.CaRequestFailed, `certificate for ${identityUri}: ${message}`, { cause });
}
