import { webcrypto } from 'node:crypto';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { ca } from '@ambient/protos';
import type { TestPki } from './pki.js';
import { x509 } from './pki-x509.js';

const SUBJECT_ALT_NAME_OID = '2.5.29.17';
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;
const DEFAULT_SERVER_NAME = 'istiod.istio-system.svc';
const CSR_KEY_ALGORITHM: webcrypto.EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };

export interface SignCsrOptions {
  /** Issue for this URI instead of the one the CSR asks for (a confused or hostile CA). */
  identity?: string | undefined;
}

/** Signs CSRs with a TestPki the way istiod's CA does: the CSR's key, its URI SAN, the TTL asked for. */
export class CsrSigner {
  constructor(readonly pki: TestPki) {}

  /**
   * The certificate chain in IstioCertificateResponse order: leaf, intermediate (if the PKI has
   * one), root. The leaf is valid from now for `ttlSeconds`. Throws on a CSR whose signature does
   * not verify or that asks for no URI.
   */
  async signCsr(csrPem: string, ttlSeconds: number, options: SignCsrOptions = {}): Promise<string[]> {
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    if (!(await csr.verify(webcrypto))) throw new Error('the CSR signature does not verify');
    const identity = options.identity ?? requestedUri(csr);
    if (identity === undefined) throw new Error('the CSR asks for no URI SAN');
    const notBefore = new Date(Date.now());
    const notAfter = new Date(notBefore.getTime() + ttlSeconds * 1000);
    // Our CSRs (and ztunnel's) carry P-256 keys; the import rejects anything else.
    const publicKey = await webcrypto.subtle.importKey(
      'spki',
      csr.publicKey.rawData,
      CSR_KEY_ALGORITHM,
      true,
      ['verify'],
    );
    const issued = await this.pki.issueForKey(publicKey, {
      identity,
      notBefore,
      notAfter,
    });
    return [...(issued.certChainPem.match(PEM_CERTIFICATE) ?? []), issued.rootsPem];
  }
}

/** The URI SAN a CSR asks for, if any. */
export function requestedUri(csr: x509.Pkcs10CertificateRequest): string | undefined {
  const extension = csr.getExtension(SUBJECT_ALT_NAME_OID);
  if (!(extension instanceof x509.SubjectAlternativeNameExtension)) return undefined;
  return extension.names.items.find((name) => name.type === 'url')?.value;
}

/** One CreateCertificate call as the test CA saw it. */
export interface TestCaRequest {
  csrPem: string;
  /** The URI SAN the CSR asked for. */
  csrIdentity: string | undefined;
  validityDuration: number;
  /** The request's `metadata` Struct, as a plain object. */
  metadata: Record<string, unknown> | undefined;
  /** gRPC request headers (lower-case names). */
  headers: Record<string, string>;
}

/** What the test CA does next; tests change it between requests. */
export interface TestCaBehaviour {
  /** Fail every request with this status. */
  failure?: { code: status; message: string } | undefined;
  /** Answer after this many (real) milliseconds. */
  delayMs?: number | undefined;
  /** Issue for this long instead of the validity_duration asked for. */
  ttlSeconds?: number | undefined;
  /** Issue for this identity instead of the CSR's. */
  issueFor?: string | undefined;
  /** Change the chain before sending it (drop the root, add roots, garble it). */
  rewriteChain?: ((certChain: string[]) => string[]) | undefined;
}

export interface TestCaServerOptions {
  /** Signs the CSRs and the server's own certificate. */
  pki: TestPki;
  /** The DNS SAN of the server's certificate; default istiod's. */
  serverName?: string;
  /** Loopback only; default 127.0.0.1. */
  host?: string;
}

/**
 * A minimal `istio.v1.auth.IstioCertificateService` over TLS on loopback: it records every request,
 * signs CSRs with a CsrSigner, and can be told to fail, stall, shorten the TTL or issue for
 * another identity. No authentication: tests assert on the recorded headers instead.
 */
export class TestCaServer {
  readonly requests: TestCaRequest[] = [];
  behaviour: TestCaBehaviour = {};

  private constructor(
    private readonly server: Server,
    private readonly signer: CsrSigner,
    /** `host:port`, for CaClient. */
    readonly address: string,
    /** The roots the server's certificate chains to. */
    readonly rootCertPem: string,
    readonly serverName: string,
  ) {}

  static async start(options: TestCaServerOptions): Promise<TestCaServer> {
    const serverName = options.serverName ?? DEFAULT_SERVER_NAME;
    const host = options.host ?? '127.0.0.1';
    const serving = await options.pki.issue({
      identity: { namespace: 'istio-system', serviceAccount: 'istiod' },
      dnsNames: [serverName],
    });
    const server = new Server();
    const credentials = ServerCredentials.createSsl(
      null,
      [{ private_key: Buffer.from(serving.keyPem), cert_chain: Buffer.from(serving.certChainPem) }],
      false,
    );
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host}:0`, credentials, (err, boundPort) => {
        if (err === null) resolve(boundPort);
        else reject(err);
      });
    });
    const instance = new TestCaServer(
      server,
      new CsrSigner(options.pki),
      `${host}:${port}`,
      options.pki.rootCertPem,
      serverName,
    );
    server.addService(ca.IstioCertificateServiceService, {
      createCertificate: (
        call: ServerUnaryCall<ca.IstioCertificateRequest, ca.IstioCertificateResponse>,
        callback: sendUnaryData<ca.IstioCertificateResponse>,
      ) => {
        instance.answer(call).then(
          (certChain) => {
            callback(null, { certChain });
          },
          (err: unknown) => {
            const failure = err instanceof CaFailure ? err : new CaFailure(status.INTERNAL, String(err));
            callback({ code: failure.code, details: failure.message });
          },
        );
      },
    });
    return instance;
  }

  close(): void {
    this.server.forceShutdown();
  }

  private async answer(
    call: ServerUnaryCall<ca.IstioCertificateRequest, ca.IstioCertificateResponse>,
  ): Promise<string[]> {
    const { request } = call;
    const behaviour = { ...this.behaviour };
    let csrIdentity: string | undefined;
    try {
      csrIdentity = requestedUri(new x509.Pkcs10CertificateRequest(request.csr));
    } catch {
      csrIdentity = undefined;
    }
    this.requests.push({
      csrPem: request.csr,
      csrIdentity,
      validityDuration: request.validityDuration,
      metadata: request.metadata,
      headers: headersOf(call),
    });
    if (behaviour.delayMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
    }
    if (behaviour.failure !== undefined)
      throw new CaFailure(behaviour.failure.code, behaviour.failure.message);
    let certChain: string[];
    try {
      certChain = await this.signer.signCsr(request.csr, behaviour.ttlSeconds ?? request.validityDuration, {
        identity: behaviour.issueFor,
      });
    } catch (err) {
      throw new CaFailure(status.INVALID_ARGUMENT, err instanceof Error ? err.message : String(err));
    }
    return behaviour.rewriteChain === undefined ? certChain : behaviour.rewriteChain(certChain);
  }
}

class CaFailure extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

function headersOf(call: ServerUnaryCall<unknown, unknown>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(call.metadata.getMap())) {
    headers[name] = typeof value === 'string' ? value : value.toString('base64');
  }
  return headers;
}
