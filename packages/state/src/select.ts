import type { Service, Workload } from './model.js';
import type { ProxyState } from './store.js';

export interface PickedEndpoint {
  readonly workload: Workload;
  readonly targetPort: number;
}

/**
 * The port to dial on an endpoint for a service port: the endpoint's own mapping first, then the
 * service's target port. 0 means "not known here" in both places, so 0 everywhere resolves to nothing.
 */
export function resolveTargetPort(
  service: Service,
  endpointTargetPorts: ReadonlyMap<number, number> | undefined,
  servicePort: number,
): number | undefined {
  const fromEndpoint = endpointTargetPorts?.get(servicePort);
  if (fromEndpoint !== undefined && fromEndpoint > 0) return fromEndpoint;
  const fromService = service.ports.find((port) => port.servicePort === servicePort)?.targetPort;
  return fromService !== undefined && fromService > 0 ? fromService : undefined;
}

/**
 * Picks an endpoint for a service port: healthy endpoints with an address whose target port resolves,
 * chosen uniformly at random by default. As in ztunnel, a port the service does not declare has no
 * endpoint at all, whatever the workloads map.
 */
export function pickEndpoint(
  state: ProxyState,
  service: Service,
  servicePort: number,
  random: () => number = Math.random,
): PickedEndpoint | undefined {
  if (!service.ports.some((port) => port.servicePort === servicePort)) return undefined;
  const candidates: PickedEndpoint[] = [];
  for (const endpoint of state.endpoints(service)) {
    // Without an IP a workload is reachable only through a network gateway, which we do not do yet.
    if (endpoint.workload.workloadIps.length === 0) continue;
    const targetPort = resolveTargetPort(service, endpoint.targetPorts, servicePort);
    if (targetPort !== undefined) candidates.push({ workload: endpoint.workload, targetPort });
  }
  if (candidates.length === 0) return undefined;
  // Clamped: a random source that returns exactly 1 (or strays outside [0, 1)) still picks a candidate.
  const index = Math.min(candidates.length - 1, Math.max(0, Math.floor(random() * candidates.length)));
  return candidates[index];
}
