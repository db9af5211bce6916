import { ErrorCode, formatSocketAddress, type SocketAddress } from '@ambient/core';
import {
  pickEndpoint,
  type GatewayAddress,
  type ProxyState,
  type Service,
  type Workload,
} from '@ambient/state';

/** Where an outbound connection goes and how: decided once, before a byte moves. */
export type OutboundDecision =
  | {
      readonly kind: 'hbone';
      /** The peer we dial: the destination pod's IP and its HBONE port. */
      readonly hboneAddress: SocketAddress;
      /** `podIP:targetPort`, the CONNECT target. */
      readonly authority: string;
      /** Identities the peer may prove: the service's SANs and the workload's own identity. */
      readonly expectedIdentities: readonly string[];
      readonly destination: Workload;
      readonly service: Service | undefined;
      /** Set when the connection goes through the destination's waypoint (the peer is the waypoint). */
      readonly waypoint?: Workload;
    }
  | {
      /** A known workload outside the mesh: plain TCP to it. */
      readonly kind: 'tcp';
      readonly address: SocketAddress;
      readonly destination: Workload;
      readonly service: Service | undefined;
    }
  | {
      /** Not a mesh address: plain TCP to the original destination, untouched. */
      readonly kind: 'passthrough';
      readonly address: SocketAddress;
    }
  | {
      readonly kind: 'reject';
      readonly code:
        typeof ErrorCode.NoHealthyUpstream | typeof ErrorCode.SelfCall | typeof ErrorCode.WaypointUnknown;
      readonly reason: string;
    };

export interface BuildRequestOptions {
  /** The HBONE port peers listen on (15008). */
  readonly hbonePort: number;
  /** ztunnel's own ports: a connection to one of them on one of our addresses is a loop. */
  readonly internalPorts: ReadonlySet<number>;
  /** Addresses of this ztunnel and the workloads it serves (a set, or any `has` test: in-pod adds loopback). */
  readonly selfIps: Pick<ReadonlySet<string>, 'has'>;
  readonly random?: () => number;
  /** Set for the waypoint's own traffic to its target, which must not loop back to it. */
  readonly ignoreWaypoints?: boolean;
}

/**
 * ztunnel's outbound decision (reference/ztunnel.md §1.4), as a pure function of the state:
 * a service VIP picks one of its endpoints; a workload IP is that workload; a mesh workload is
 * reached over HBONE at `<pod ip>:15008` with `:authority <pod ip>:<target port>`; a known
 * workload outside the mesh gets plain TCP; an unknown address is passed through.
 */
export function buildRequest(
  state: ProxyState,
  source: Workload,
  target: SocketAddress,
  options: BuildRequestOptions,
): OutboundDecision {
  if (options.internalPorts.has(target.port) && options.selfIps.has(target.ip)) {
    return {
      kind: 'reject',
      code: ErrorCode.SelfCall,
      reason: `${formatSocketAddress(target.ip, target.port)} is one of ztunnel's own listeners`,
    };
  }

  let destination: Workload | undefined;
  let targetPort = target.port;
  const service = state.serviceByVip(target.ip);
  // A service's waypoint takes the connection to the VIP as it is: the waypoint picks the endpoint.
  if (service?.waypoint && options.ignoreWaypoints !== true)
    return viaWaypoint(state, source, service.waypoint, target, service, undefined, options);
  if (service) {
    const picked = pickEndpoint(state, service, target.port, options.random);
    if (!picked) {
      return {
        kind: 'reject',
        code: ErrorCode.NoHealthyUpstream,
        reason: `no healthy upstream for ${service.hostname}:${String(target.port)}`,
      };
    }
    destination = picked.workload;
    targetPort = picked.targetPort;
  } else {
    destination = state.workloadByIp(target.ip);
  }

  if (!destination) return { kind: 'passthrough', address: target };
  if (destination.waypoint && !service && options.ignoreWaypoints !== true) {
    return viaWaypoint(state, source, destination.waypoint, target, undefined, destination, options);
  }

  // The pod IP of the same family as the address we were given, so v4 stays v4.
  const podIp = sameFamilyIp(destination.workloadIps, target.ip);
  if (destination.tunnelProtocol === 'HBONE') {
    const expected = new Set(service?.subjectAltNames ?? []);
    expected.add(destination.identity);
    return {
      kind: 'hbone',
      hboneAddress: { ip: podIp, port: options.hbonePort },
      authority: formatSocketAddress(podIp, targetPort),
      expectedIdentities: [...expected],
      destination,
      service,
    };
  }
  return { kind: 'tcp', address: { ip: podIp, port: targetPort }, destination, service };
}

/**
 * HBONE to the waypoint (reference §3.6): dial a waypoint pod on its HBONE port with the original
 * destination (VIP:port or pod IP:port) as `:authority`, expecting the waypoint's identity. Traffic from
 * the waypoint itself goes straight to its target, or it would loop. A waypoint that cannot be resolved
 * refuses the connection: sending it around the waypoint would skip the policies it enforces.
 */
function viaWaypoint(
  state: ProxyState,
  source: Workload,
  gateway: GatewayAddress,
  target: SocketAddress,
  service: Service | undefined,
  destination: Workload | undefined,
  options: BuildRequestOptions,
): OutboundDecision {
  const waypoint = resolveWaypoint(state, gateway, options.random);
  if (waypoint?.uid === source.uid) {
    return buildRequest(state, source, target, { ...options, ignoreWaypoints: true });
  }
  const ip = waypoint && sameFamilyIp(waypoint.workloadIps, target.ip);
  if (!waypoint || ip === undefined || waypoint.tunnelProtocol !== 'HBONE') {
    return {
      kind: 'reject',
      code: ErrorCode.WaypointUnknown,
      reason: `waypoint ${describeGateway(gateway)} of ${formatSocketAddress(target.ip, target.port)} is unknown`,
    };
  }
  const picked = destination ?? waypoint;
  return {
    kind: 'hbone',
    hboneAddress: { ip, port: gateway.hboneMtlsPort },
    authority: formatSocketAddress(target.ip, target.port),
    expectedIdentities: [waypoint.identity],
    destination: picked,
    service,
    waypoint,
  };
}

/** A waypoint pod: the address may be a pod IP or the waypoint service's VIP (any of its endpoints). */
function resolveWaypoint(
  state: ProxyState,
  gateway: GatewayAddress,
  random: (() => number) | undefined,
): Workload | undefined {
  const service =
    gateway.kind === 'address'
      ? state.serviceByVip(gateway.ip, gateway.network === '' ? undefined : gateway.network)
      : state.serviceByKey(`${gateway.namespace}/${gateway.hostname}`);
  if (service) {
    const endpoints = state.endpoints(service);
    if (endpoints.length === 0) return undefined;
    const index = Math.floor((random ?? Math.random)() * endpoints.length);
    return endpoints[Math.min(index, endpoints.length - 1)]?.workload;
  }
  return gateway.kind === 'address' ? state.workloadByIp(gateway.ip) : undefined;
}

function describeGateway(gateway: GatewayAddress): string {
  return gateway.kind === 'address' ? gateway.ip : `${gateway.namespace}/${gateway.hostname}`;
}

function sameFamilyIp(ips: readonly string[], like: string): string {
  const wantV6 = like.includes(':');
  return ips.find((ip) => ip.includes(':') === wantV6) ?? ips[0] ?? like;
}
