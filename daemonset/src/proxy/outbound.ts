import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  ErrorCode,
  MeshError,
  errorMessage,
  formatSocketAddress,
  normalizeIp,
  type SocketAddress,
} from '@ambient/core';
import { formatForwarded, newTraceparent, pump, type HboneDialer } from '@ambient/hbone';
import type { Workload } from '@ambient/state';
import { ConnectionResult, type ConnectionDescription } from '@ambient/telemetry';
import { buildRequest, type OutboundDecision } from './build-request.js';
import type { ProxyInputs } from './inputs.js';
import { workloadBaggage } from './workload-baggage.js';
import { acceptSocks5, replyPacket, Socks5Reply, type Socks5Target } from './socks5.js';

/** A SOCKS5 client that has not finished its handshake by now is dropped. */
const SOCKS5_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Plain TCP connects to non-mesh destinations give up after this. */
const TCP_CONNECT_TIMEOUT_MS = 10_000;
/** The method selection reply and the CONNECT reply we write before the tunnel starts. */
const SOCKS5_REPLY_BYTES = 2 + 10;

/**
 * Where an outbound proxy's upstream connections start. The defaults dial from the host; an
 * in-pod proxy dials from inside its pod's network namespace, so the peer sees the pod's IP.
 */
export interface OutboundProxyOptions {
  /** Plain TCP upstreams (non-mesh workloads, passthrough). */
  readonly connectTcp?: (address: SocketAddress) => Promise<Socket>;
  /** HBONE sessions are dialled through this; it is part of the pool key, so pods never share one. */
  readonly hboneDialer?: HboneDialer;
  /** Addresses that are this proxy itself, for loop detection (default: the ztunnel's `selfIps`). */
  readonly selfIps?: Pick<ReadonlySet<string>, 'has'>;
}

/**
 * Outbound traffic of the workloads this ztunnel serves. Connections arrive through SOCKS5 (the
 * source workload is the one whose IP the client connects from) or, in-pod, captured on a pod's
 * 15001 (the caller knows the pod and the original destination); both end in `forward`.
 */
export class OutboundProxy {
  private readonly connectPlain: (address: SocketAddress) => Promise<Socket>;
  private readonly selfIps: Pick<ReadonlySet<string>, 'has'>;

  constructor(
    private readonly inputs: ProxyInputs,
    private readonly options: OutboundProxyOptions = {},
  ) {
    this.connectPlain = options.connectTcp ?? ((address) => connectTcp(address));
    this.selfIps = options.selfIps ?? inputs.selfIps;
  }

  /** Entry point for a socket accepted on the SOCKS5 listener. Never throws. */
  readonly serveSocks5 = (client: Socket): void => {
    client.setNoDelay(true);
    client.on('error', noop); // errors are handled by the handshake or the pump
    this.socks5(client).catch((err: unknown) => {
      this.inputs.logger.error(
        { error: errorMessage(err) },
        'outbound SOCKS5 connection failed unexpectedly',
      );
      client.destroy();
    });
  };

  private async socks5(client: Socket): Promise<void> {
    const { logger, state } = this.inputs;
    const sourceIp = normalizeIp(client.remoteAddress ?? '');
    let target: Socks5Target;
    let handshakeBytes: number;
    try {
      ({ target, handshakeBytes } = await acceptSocks5(client, SOCKS5_HANDSHAKE_TIMEOUT_MS));
    } catch (err) {
      logger.warn({ src: { addr: sourceIp }, error: errorMessage(err) }, 'connection failed');
      return;
    }
    const source = state.workloadByIp(sourceIp);
    if (source?.node !== this.inputs.config.nodeName) {
      logger.warn(
        {
          'src.addr': sourceIp,
          direction: 'outbound',
          code: ErrorCode.UnknownSource,
          error: `no local workload has IP ${sourceIp}`,
        },
        'connection failed',
      );
      client.end(replyPacket(Socks5Reply.NotAllowed));
      return;
    }
    const resolved = this.resolve(target);
    if (!resolved) {
      logger.warn(
        { 'src.addr': sourceIp, direction: 'outbound', error: 'unknown hostname' },
        'connection failed',
      );
      client.end(replyPacket(Socks5Reply.HostUnreachable));
      return;
    }
    await this.forward(client, source, resolved, handshakeBytes, SOCKS5_REPLY_BYTES, (ok, err) => {
      client.write(replyPacket(ok ? Socks5Reply.Succeeded : socksReplyFor(err)));
    });
  }

  /** A SOCKS5 domain target resolves to a service VIP from our state (no DNS lookups here). */
  private resolve(target: Socks5Target): SocketAddress | undefined {
    if (target.kind === 'ip') return { ip: target.ip, port: target.port };
    const service = this.inputs.state.servicesByHostname(target.hostname)[0];
    const vip = service?.vips[0];
    return vip ? { ip: vip.ip, port: target.port } : undefined;
  }

  /**
   * Decide, connect upstream, tell the client (`ready`), then pump. The connection is recorded
   * exactly once, when it ends. `preambleIn`/`preambleOut` are bytes of a front protocol
   * (SOCKS5) that must not be counted as traffic; a captured connection has none. Never throws
   * for a failed upstream: that is recorded and the client closed.
   */
  async forward(
    client: Socket,
    source: Workload,
    target: SocketAddress,
    preambleIn = 0,
    preambleOut = 0,
    ready: (ok: boolean, err?: unknown) => void = noop,
  ): Promise<void> {
    const inputs = this.inputs;
    const decision = buildRequest(inputs.state, source, target, {
      hbonePort: inputs.config.ports.hbone,
      internalPorts: inputs.internalPorts,
      selfIps: this.selfIps,
    });
    const clientAddress = formatSocketAddress(
      normalizeIp(client.remoteAddress ?? ''),
      client.remotePort ?? 0,
    );
    const result = new ConnectionResult(
      inputs.metrics,
      inputs.logger,
      describe(decision, source, clientAddress, target),
    );
    inputs.connections.add(client);
    client.once('close', () => {
      inputs.connections.delete(client);
    });

    let upstream: Duplex;
    try {
      upstream = await this.connectUpstream(decision, source, client);
    } catch (err) {
      ready(false, err);
      // Flush what `ready` wrote, then close: end() alone would leave the socket open until the
      // client's unread bytes were consumed, which no one does here.
      client.destroySoon();
      result.close({ clientToServerBytes: 0, serverToClientBytes: 0, error: err });
      return;
    }
    if (client.destroyed) {
      upstream.destroy();
      result.close({
        clientToServerBytes: 0,
        serverToClientBytes: 0,
        error: new MeshError(ErrorCode.ConnectFailed, 'client went away'),
      });
      return;
    }
    ready(true);
    pump(client, upstream, (error) => {
      result.close({
        clientToServerBytes: client.bytesRead - preambleIn,
        serverToClientBytes: client.bytesWritten - preambleOut,
        error,
      });
    });
  }

  private async connectUpstream(
    decision: OutboundDecision,
    source: Workload,
    client: Socket,
  ): Promise<Duplex> {
    switch (decision.kind) {
      case 'reject':
        throw new MeshError(decision.code, decision.reason);
      case 'passthrough':
      case 'tcp':
        return this.connectPlain(decision.address);
      case 'hbone':
        return this.inputs.pool.connect(
          {
            sourceIdentity: source.identity,
            expectedIdentities: decision.expectedIdentities,
            destinationIp: decision.hboneAddress.ip,
            destinationPort: decision.hboneAddress.port,
            sourceIp: sameFamilySourceIp(source, decision.hboneAddress.ip),
            dialer: this.options.hboneDialer,
          },
          {
            authority: decision.authority,
            headers: {
              baggage: workloadBaggage(source),
              forwarded: formatForwarded(
                normalizeIp(client.remoteAddress ?? ''),
                client.remotePort ?? 0,
                decision.service?.hostname,
              ),
              traceparent: newTraceparent(),
            },
          },
        );
    }
  }
}

/** The labels and addresses of an outbound connection, from the decision. */
function describe(
  decision: OutboundDecision,
  source: Workload,
  clientAddress: string,
  target: SocketAddress,
): ConnectionDescription {
  const base = {
    reporter: 'source',
    direction: 'outbound',
    source,
    sourceAddress: clientAddress,
  } as const;
  switch (decision.kind) {
    case 'hbone':
      return {
        ...base,
        sourcePrincipal: source.identity,
        destination: decision.destination,
        destinationService: decision.service,
        destinationPrincipal: decision.destination.identity,
        securityPolicy: 'mutual_tls',
        destinationAddress: formatSocketAddress(decision.hboneAddress.ip, decision.hboneAddress.port),
        hboneTarget: decision.authority,
      };
    case 'tcp':
      return {
        ...base,
        destination: decision.destination,
        destinationService: decision.service,
        securityPolicy: 'unknown',
        destinationAddress: formatSocketAddress(decision.address.ip, decision.address.port),
      };
    case 'passthrough':
    case 'reject':
      return {
        ...base,
        securityPolicy: 'unknown',
        destinationAddress: formatSocketAddress(target.ip, target.port),
      };
  }
}

/** Dial from the source pod's own IP, as an in-pod ztunnel does, so the peer sees who is calling. */
function sameFamilySourceIp(source: Workload, destinationIp: string): string | undefined {
  const wantV6 = destinationIp.includes(':');
  return source.workloadIps.find((ip) => ip.includes(':') === wantV6);
}

export function connectTcp(address: SocketAddress, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: address.ip,
      port: address.port,
      allowHalfOpen: true,
      noDelay: true,
      ...(localAddress === undefined ? {} : { localAddress }),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new MeshError(
          ErrorCode.ConnectTimeout,
          `connect to ${formatSocketAddress(address.ip, address.port)} timed out`,
        ),
      );
    }, TCP_CONNECT_TIMEOUT_MS);
    timer.unref();
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(
        new MeshError(
          ErrorCode.ConnectFailed,
          `connect to ${formatSocketAddress(address.ip, address.port)} failed: ${err.message}`,
          { cause: err },
        ),
      );
    };
    socket.once('error', onError);
  });
}

function socksReplyFor(err: unknown): number {
  if (!(err instanceof MeshError)) return Socks5Reply.GeneralFailure;
  switch (err.code) {
    case ErrorCode.ConnectFailed:
    case ErrorCode.HboneRejected:
      return Socks5Reply.ConnectionRefused;
    case ErrorCode.NoHealthyUpstream:
    case ErrorCode.ConnectTimeout:
      return Socks5Reply.HostUnreachable;
    case ErrorCode.SelfCall:
      return Socks5Reply.NotAllowed;
    default:
      return Socks5Reply.GeneralFailure;
  }
}

function noop(): void {
  // Listener only to keep an 'error' from becoming an uncaught exception.
}
