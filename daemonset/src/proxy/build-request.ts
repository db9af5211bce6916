import { ErrorCode, formatSocketAddress, type SocketAddress } from '@ambient/core';
import { pickEndpoint, type ProxyState, type Service, type Workload } from '@ambient/state';

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
      readonly code: typeof ErrorCode.NoHealthyUpstream | typeof ErrorCode.SelfCall;
      readonly reason: string;
    };

export interface BuildRequestOptions {
  /** The HBONE port peers listen on (15008). */
  readonly hbonePort: number;
  /** ztunnel's own ports: a connection to one of them on one of our addresses is a loop. */
  readonly internalPorts: ReadonlySet<number>;
  /** Addresses of this ztunnel and the workloads it serves. */
  readonly selfIps: ReadonlySet<string>;
  readonly random?: () => number;
}

/**
 * ztunnel's outbound decision (reference/ztunnel.md §1.4), as a pure function of the state:
 * a service VIP picks one of its endpoints; a workload IP is that workload; a mesh workload is
 * reached over HBONE at `<pod ip>:15008` with `:authority <pod ip>:<target port>`; a known
 * workload outside the mesh gets plain TCP; an unknown address is passed through.
 */
export function buildRequest(
  state: ProxyState,
  _source: Workload,
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

function sameFamilyIp(ips: readonly string[], like: string): string {
  const wantV6 = like.includes(':');
  return ips.find((ip) => ip.includes(':') === wantV6) ?? ips[0] ?? like;
}
