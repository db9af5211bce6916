import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { ErrorCode, MeshError, errorMessage, formatSocketAddress, type Logger } from '@ambient/core';
import { parseIdentity } from '@ambient/identity';
import { ca } from '@ambient/protos';
import type { CertificateAuthority, ServingCertificate } from './authority.js';
import { bearerToken, type Authenticator, type Caller } from './authn.js';
import { authorizeIdentity, type WorkloadDirectory } from './authz.js';
import { CaMetrics } from './metrics.js';

/** istiod's port for xDS and the CA over TLS. */
export const CA_PORT = 15012;
/** The name ztunnel and istio-agent dial the CA by (CA_ADDRESS istiod.istio-system.svc:15012). */
export const ISTIOD_DNS_NAMES: readonly string[] = ['istiod.istio-system.svc'];
/** The request metadata key a node agent names the identity it asks for with (istio pkg/security). */
export const IMPERSONATED_IDENTITY_KEY = 'ImpersonatedIdentity';
/** In-flight requests get this long to finish on close; then they are cut. */
const SHUTDOWN_GRACE_MS = 5_000;

export interface CaServerOptions {
  /** The IP to listen on. */
  readonly host: string;
  /** 15012 by default; 0 picks a free port (tests). */
  readonly port?: number;
  readonly authority: CertificateAuthority;
  readonly authenticator: Authenticator;
  readonly workloads: WorkloadDirectory;
  /** Default: issued by `authority` for `serverDnsNames` and `host`, so clients verify it against the CA's root. */
  readonly serverCertificate?: ServingCertificate;
  /** DNS SANs of the issued serving certificate; default istiod.istio-system.svc. */
  readonly serverDnsNames?: readonly string[];
  readonly logger: Logger;
  /** Where istiod's citadel_server_* counters go; none when absent. */
  readonly registry?: Registry;
  /** More services on the same TLS listener (istiod serves xDS and the CA together on 15012). */
  readonly addServices?: (server: grpc.Server) => void;
}

export interface CaServer {
  readonly host: string;
  readonly port: number;
  /** What the listener presents: leaf first. */
  readonly serverCertChainPem: string;
  /** Stops accepting, lets in-flight requests finish (up to 5 s), then resolves. */
  close(): Promise<void>;
}

type Outcome =
  | { readonly ok: true; readonly response: ca.IstioCertificateResponse }
  | { readonly ok: false; readonly code: grpc.status; readonly message: string };

/**
 * istiod's CA endpoint, `/istio.v1.auth.IstioCertificateService/CreateCertificate`, over TLS:
 * authenticate the bearer token, decide the identity, sign. Every refusal is one gRPC status
 * and one warn line naming the caller and the reason.
 */
export async function startCaServer(options: CaServerOptions): Promise<CaServer> {
  const { authority, logger } = options;
  const metrics = options.registry === undefined ? undefined : new CaMetrics(options.registry);
  const serving =
    options.serverCertificate ??
    (await authority.issueServingCertificate({
      dnsNames: options.serverDnsNames ?? ISTIOD_DNS_NAMES,
      ips: isSpecificIp(options.host) ? [options.host] : [],
    }));

  const handle = async (
    call: grpc.ServerUnaryCall<ca.IstioCertificateRequest, ca.IstioCertificateResponse>,
  ): Promise<Outcome> => {
    metrics?.csrReceived.inc();
    let caller: Caller | undefined;
    const refuse = (code: grpc.status, message: string, reason = message): Outcome => {
      logger.warn(
        { caller: caller?.name ?? 'unauthenticated', peer: call.getPeer(), code: grpc.status[code], reason },
        'certificate request refused',
      );
      return { ok: false, code, message };
    };

    const authorization = call.metadata.get('authorization').find((value) => typeof value === 'string');
    const token = bearerToken(authorization);
    if (token === undefined) {
      metrics?.authenticationFailures.inc();
      return refuse(grpc.status.UNAUTHENTICATED, 'no "authorization: Bearer <token>" metadata');
    }
    try {
      caller = await options.authenticator.authenticate(token);
    } catch (err) {
      // Not the caller's fault: UNAVAILABLE tells it to retry, as it would after a network error.
      return refuse(grpc.status.UNAVAILABLE, 'authentication is unavailable', errorMessage(err));
    }
    if (caller === undefined) {
      metrics?.authenticationFailures.inc();
      return refuse(grpc.status.UNAUTHENTICATED, 'the bearer token is not valid');
    }

    const impersonated: unknown = call.request.metadata?.[IMPERSONATED_IDENTITY_KEY];
    if (
      impersonated !== undefined &&
      (typeof impersonated !== 'string' || parseIdentity(impersonated) === undefined)
    ) {
      return refuse(
        grpc.status.INVALID_ARGUMENT,
        `${IMPERSONATED_IDENTITY_KEY} must be a SPIFFE workload id`,
      );
    }
    const decision = authorizeIdentity(caller, impersonated, options.workloads);
    if (!decision.allowed) {
      metrics?.authenticationFailures.inc();
      return refuse(grpc.status.PERMISSION_DENIED, decision.reason);
    }

    const result = await authority.sign(call.request.csr, decision.identity, call.request.validityDuration);
    if (!result.ok) {
      if (result.reason === 'csr-invalid') metrics?.csrParsingErrors.inc();
      else metrics?.signErrors.inc({ error_type: result.reason });
      return refuse(grpc.status.INVALID_ARGUMENT, result.message);
    }
    metrics?.issued.inc();
    logger.info(
      {
        caller: caller.name,
        identity: decision.identity,
        serial: result.serialNumber,
        notAfter: result.notAfter.toISOString(),
      },
      'certificate issued',
    );
    return { ok: true, response: { certChain: [...result.certChain] } };
  };

  const server = new grpc.Server();
  const implementation: ca.IstioCertificateServiceServer = {
    createCertificate: (call, callback) => {
      handle(call).then(
        (outcome) => {
          if (outcome.ok) callback(null, outcome.response);
          else callback({ code: outcome.code, details: outcome.message });
        },
        (err: unknown) => {
          logger.error({ error: errorMessage(err) }, 'certificate request failed');
          callback({ code: grpc.status.INTERNAL, details: 'the CA failed to handle the request' });
        },
      );
    },
  };
  server.addService(ca.IstioCertificateServiceService, implementation);
  options.addServices?.(server);

  const credentials = grpc.ServerCredentials.createSsl(
    null,
    [{ cert_chain: Buffer.from(serving.certChainPem), private_key: Buffer.from(serving.keyPem) }],
    false,
  );
  const address = formatSocketAddress(options.host, options.port ?? CA_PORT);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (err, boundPort) => {
      if (err === null) resolve(boundPort);
      else {
        reject(
          new MeshError(ErrorCode.ListenFailed, `CA listener could not bind ${address}: ${err.message}`, {
            cause: err,
          }),
        );
      }
    });
  });
  logger.info({ address: formatSocketAddress(options.host, port) }, 'CA listening');

  return {
    host: options.host,
    port,
    serverCertChainPem: serving.certChainPem,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
        }, SHUTDOWN_GRACE_MS);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

/** A wildcard address is no name a client dials, so it does not belong in the certificate. */
function isSpecificIp(host: string): boolean {
  return isIP(host) !== 0 && host !== '0.0.0.0' && host !== '::';
}
