import type { Socket } from 'node:net';
import {
  ErrorCode,
  MeshError,
  formatSocketAddress,
  parseAuthority,
  type ErrorCode as ErrorCodeType,
  type SocketAddress,
} from '@ambient/core';
import {
  parseBaggage,
  parseForwarded,
  parseTraceparent,
  pump,
  rejectStream,
  type InboundStream,
} from '@ambient/hbone';
import type { ConnectionAttributes } from '@ambient/policy';
import { resolveTargetPort, type Service, type Workload } from '@ambient/state';
import { ConnectionResult, type ServiceInfo, type WorkloadInfo } from '@ambient/telemetry';
import type { AppConnector, ProxyInputs } from './inputs.js';
import { connectTcp } from './outbound.js';
import { workloadBaggage } from './workload-baggage.js';

/** HTTP status of each inbound rejection, as ztunnel answers them (reference/ztunnel.md §3.3). */
const STATUS_FOR: Partial<Record<ErrorCodeType, number>> = {
  [ErrorCode.HboneBadMethod]: 400,
  [ErrorCode.HboneBadAuthority]: 400,
  [ErrorCode.HboneIpMismatch]: 400,
  [ErrorCode.AuthorizationDenied]: 401,
  [ErrorCode.HboneUnknownWorkload]: 503,
  [ErrorCode.HboneUnknownTarget]: 503,
  [ErrorCode.ConnectFailed]: 503,
  [ErrorCode.ConnectTimeout]: 503,
};

type InboundDecision =
  | {
      readonly kind: 'forward';
      readonly workload: Workload;
      /** The workload's own address: the authority's IP, or where the connection arrived. */
      readonly target: SocketAddress;
      readonly service: Service | undefined;
      readonly attributes: ConnectionAttributes;
    }
  | { readonly kind: 'reject'; readonly error: MeshError; readonly workload: Workload | undefined };

/**
 * Which workload an HBONE request is for and how its app is reached. The defaults serve every
 * local workload from the host: the connection's local address names the workload. In-pod, one
 * proxy serves one pod: the pod is known, a request may name any of its IPs, and the app is
 * dialled inside the pod's network namespace.
 */
export interface InboundProxyOptions {
  /** The local workload the request arrived for; undefined answers 503. */
  readonly destinationWorkload?: (request: InboundStream) => Workload | undefined;
  /** Whether a CONNECT to `ip` is for `workload` (else 400 "ip mismatch"). */
  readonly acceptsIp?: (workload: Workload, ip: string, request: InboundStream) => boolean;
  readonly connectApp?: AppConnector;
}

/**
 * HBONE requests arriving for the workloads this ztunnel serves: check the request, connect to
 * the workload, answer 200 only once that worked, then pump. Identity comes from the client
 * certificate; the headers only help telemetry.
 */
export class InboundProxy {
  private readonly destinationWorkload: (request: InboundStream) => Workload | undefined;
  private readonly acceptsIp: (workload: Workload, ip: string, request: InboundStream) => boolean;
  private readonly connectApp: AppConnector;

  constructor(
    private readonly inputs: ProxyInputs,
    options: InboundProxyOptions = {},
  ) {
    this.destinationWorkload =
      options.destinationWorkload ?? ((request) => inputs.state.workloadByIp(request.localIp));
    this.acceptsIp = options.acceptsIp ?? ((_workload, ip, request) => ip === request.localIp);
    this.connectApp = options.connectApp ?? connectFromLoopbackPeer;
  }

  readonly handle = (request: InboundStream): void => {
    const decision = this.decide(request);
    const forwarded = parseForwarded(headerValue(request.headers.forwarded));
    const workload = decision.workload;
    const service = decision.kind === 'forward' ? decision.service : undefined;
    const result = new ConnectionResult(this.inputs.metrics, this.inputs.logger, {
      reporter: 'destination',
      direction: 'inbound',
      source: this.sourceWorkload(request),
      sourcePrincipal: request.peerIdentityUri,
      destination: workload,
      destinationService: service ?? this.guessService(workload, forwarded.host),
      destinationPrincipal: workload?.identity,
      securityPolicy: 'mutual_tls',
      sourceAddress: formatSocketAddress(request.remoteIp, request.remotePort),
      destinationAddress: formatSocketAddress(request.localIp, request.localPort),
      hboneTarget: request.authority,
      traceId: parseTraceparent(headerValue(request.headers.traceparent))?.traceId,
    });
    if (decision.kind === 'reject') {
      rejectStream(request.stream, STATUS_FOR[decision.error.code] ?? 503);
      result.close({ clientToServerBytes: 0, serverToClientBytes: 0, error: decision.error });
      return;
    }
    const stream = request.stream;
    stream.on('error', noop); // the pump reports stream errors once it runs
    this.inputs.connections.add(stream);
    this.inputs.authorizer.track(decision.workload, decision.attributes, stream);
    stream.once('close', () => {
      this.inputs.connections.delete(stream);
    });
    this.connectApp(decision.target, request.remoteIp)
      .then((backend: Socket) => {
        if (stream.destroyed || stream.closed) {
          backend.destroy();
          result.close({
            clientToServerBytes: 0,
            serverToClientBytes: 0,
            error: new MeshError(
              ErrorCode.HboneStreamFailed,
              'client reset the CONNECT before it was answered',
            ),
          });
          return;
        }
        stream.respond({ ':status': 200, baggage: workloadBaggage(decision.workload) });
        pump(stream, backend, (error) => {
          result.close({
            clientToServerBytes: backend.bytesWritten,
            serverToClientBytes: backend.bytesRead,
            error,
          });
        });
      })
      .catch((err: unknown) => {
        rejectStream(stream, 503);
        result.close({ clientToServerBytes: 0, serverToClientBytes: 0, error: err });
      });
  };

  /** ztunnel's checks, in its order: method, authority, local workload, destination IP, port, policy. */
  private decide(request: InboundStream): InboundDecision {
    const internalPorts = this.inputs.internalPorts;
    const workload = this.destinationWorkload(request);
    if (request.method !== 'CONNECT') {
      return reject(ErrorCode.HboneBadMethod, `method ${request.method} is not CONNECT`, workload);
    }
    const authority = parseAuthority(request.authority);
    if (!authority) {
      return reject(ErrorCode.HboneBadAuthority, `invalid authority "${request.authority}"`, workload);
    }
    if (workload?.node !== this.inputs.config.nodeName) {
      return reject(ErrorCode.HboneUnknownWorkload, `no local workload has IP ${request.localIp}`, undefined);
    }
    let targetIp = request.localIp;
    let targetPort = authority.port;
    let service: Service | undefined;
    if (authority.kind === 'ip') {
      targetIp = authority.ip;
      if (!this.acceptsIp(workload, authority.ip, request)) {
        return reject(
          ErrorCode.HboneIpMismatch,
          `ip mismatch: ${request.localIp} != ${authority.ip}`,
          workload,
        );
      }
    } else {
      const resolved = this.resolveHostname(workload, authority.hostname, authority.port);
      if (!resolved) {
        return reject(
          ErrorCode.HboneUnknownTarget,
          `unknown service ${authority.hostname}:${String(authority.port)}`,
          workload,
        );
      }
      ({ service, targetPort } = resolved);
    }
    if (internalPorts.has(targetPort)) {
      return reject(
        ErrorCode.HboneUnknownTarget,
        `port ${String(targetPort)} is internal to ztunnel`,
        workload,
      );
    }
    const attributes: ConnectionAttributes = {
      sourceIp: request.remoteIp,
      sourcePort: request.remotePort,
      destinationIp: targetIp,
      destinationPort: targetPort,
      sourceIdentity: request.peerIdentityUri,
    };
    const denied = this.inputs.authorizer.check(workload, attributes);
    if (denied) return { kind: 'reject', error: denied, workload };
    return { kind: 'forward', workload, target: { ip: targetIp, port: targetPort }, service, attributes };
  }

  /** A hostname target: one of the workload's services, its port mapped to the target port. */
  private resolveHostname(
    workload: Workload,
    hostname: string,
    servicePort: number,
  ): { service: Service; targetPort: number } | undefined {
    const candidates = this.inputs.state.servicesByHostname(hostname);
    const service = candidates.find((s) => s.namespace === workload.namespace) ?? candidates[0];
    if (!service) return undefined;
    const targetPort = resolveTargetPort(service, workload.services.get(service.key), servicePort);
    return targetPort === undefined ? undefined : { service, targetPort };
  }

  /** The calling workload, trusted only if its identity is the one its certificate proved. */
  private sourceWorkload(request: InboundStream): WorkloadInfo | undefined {
    const byIp = this.inputs.state.workloadByIp(request.remoteIp);
    if (byIp?.identity === request.peerIdentityUri) return byIp;
    // Not known by IP (another cluster, a NAT): describe it from its baggage, for telemetry only.
    const baggage = parseBaggage(headerValue(request.headers.baggage));
    if (baggage.workloadName === undefined && baggage.namespace === undefined) return undefined;
    return {
      name: baggage.workloadName ?? '',
      workloadName: baggage.workloadName ?? '',
      namespace: baggage.namespace ?? request.peerIdentity.namespace,
      canonicalName: baggage.serviceName ?? '',
      canonicalRevision: baggage.serviceVersion ?? '',
      clusterId: baggage.clusterName ?? '',
      trustDomain: request.peerIdentity.trustDomain,
      serviceAccount: request.peerIdentity.serviceAccount,
    };
  }

  /** Which service the caller meant: the Forwarded host if it is one of ours, else the only one. */
  private guessService(workload: Workload | undefined, host: string | undefined): ServiceInfo | undefined {
    if (!workload) return undefined;
    const state = this.inputs.state;
    if (host !== undefined) {
      const named = state.servicesByHostname(host).find((s) => workload.services.has(s.key));
      if (named) return named;
    }
    if (workload.services.size === 1) {
      const [key] = workload.services.keys();
      return key === undefined ? undefined : state.serviceByKey(key);
    }
    return undefined;
  }
}

function reject(code: ErrorCodeType, message: string, workload: Workload | undefined): InboundDecision {
  return { kind: 'reject', error: new MeshError(code, message), workload };
}

/**
 * On loopback every 127/8 address is ours, so the backend can see the caller's real pod IP,
 * as ztunnel's original-source mode gives it in a cluster.
 */
const connectFromLoopbackPeer: AppConnector = (target, sourceIp) =>
  connectTcp(target, sourceIp.startsWith('127.') && sourceIp !== target.ip ? sourceIp : undefined);

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function noop(): void {
  // Keeps a stream 'error' before the pump from becoming an uncaught exception.
}
