import { ProxyState, resolveTargetPort, type Workload } from '@ambient/state';
import {
  expectAuthorization,
  NOT_ENFORCED,
  type ExpectedAuthorization,
} from './authorization-expectation.js';
import {
  APP_PORT,
  endpointsOf,
  nodeOf,
  OUTSIDE_APP,
  serviceNamed,
  workloadNamed,
  type MeshPlan,
  type NodePlan,
} from './mesh-plan.js';

/** How ztunnel should carry a connection to a destination. */
export type Path = 'hbone' | 'tcp' | 'passthrough';

/** One stop of the tour, by the names of the mesh config's pods and services. */
export interface TourStep {
  readonly from: string;
  readonly to:
    | { readonly kind: 'workload'; readonly name: string }
    | { readonly kind: 'service'; readonly hostname: string; readonly port: number }
    | { readonly kind: 'outside' };
}

/**
 * A pod to a pod on another node; a service VIP; other identities; a caller the example's policy
 * (examples/mesh/policies.yaml) denies; outside the mesh; not a mesh address. Whether a step is
 * allowed is not written here: it is judged against the policies the mesh config has now.
 */
export const TOUR: readonly TourStep[] = [
  { from: 'sleep', to: { kind: 'workload', name: 'echo-v1' } },
  { from: 'sleep', to: { kind: 'service', hostname: 'echo.default.svc.cluster.local', port: 80 } },
  { from: 'productpage', to: { kind: 'workload', name: 'reviews' } },
  { from: 'sleep', to: { kind: 'workload', name: 'reviews' } },
  { from: 'sleep', to: { kind: 'workload', name: 'legacy' } },
  { from: 'sleep', to: { kind: 'outside' } },
];

/** Who may answer a step, and what its ztunnels should say about it. */
export interface Destination {
  readonly name: string;
  readonly ip: string;
  /** The port its app listens on (a service port is mapped to it). */
  readonly port: number;
  readonly path: Path;
  /** Undefined for the server outside the mesh. */
  readonly workload: Workload | undefined;
  readonly node: NodePlan | undefined;
  /** What the destination's ztunnel should decide about this step's caller, by the current policies. */
  readonly authorization: ExpectedAuthorization;
}

export interface ResolvedStep {
  /** 1-based, as printed. */
  readonly number: number;
  readonly source: Workload;
  readonly sourceIp: string;
  readonly sourceNode: NodePlan;
  /** What the caller dials. */
  readonly target: { readonly ip: string; readonly port: number };
  /** How the destination is shown: `echo-v1`, `echo (VIP)`, `outside`. */
  readonly targetName: string;
  /** Several for a service VIP: its endpoints. */
  readonly destinations: readonly Destination[];
  readonly isService: boolean;
}

export type StepResolution =
  | { readonly kind: 'ready'; readonly step: ResolvedStep }
  | { readonly kind: 'unavailable'; readonly number: number; readonly reason: string };

/**
 * Finds each step's workloads in the plan and what its policies say about it; a step whose names
 * the mesh config lacks (or whose pods are on a node without a ztunnel here) is reported, not run.
 */
export function resolveTour(plan: MeshPlan, steps: readonly TourStep[] = TOUR): StepResolution[] {
  const state = new ProxyState(plan.snapshot);
  return steps.map((step, index) => {
    const number = index + 1;
    const unavailable = (reason: string): StepResolution => ({ kind: 'unavailable', number, reason });
    const source = workloadNamed(plan, step.from);
    const sourceIp = source?.workloadIps[0];
    if (!source || sourceIp === undefined) return unavailable(`no workload ${step.from} in the mesh config`);
    const sourceNode = nodeOf(plan, source);
    if (!sourceNode) return unavailable(noZtunnel(source));
    const destinationOf = (workload: Workload, port: number): Destination | string => {
      const ip = workload.workloadIps[0];
      if (ip === undefined) return `workload ${workload.name} has no IP`;
      const node = nodeOf(plan, workload);
      const hbone = workload.tunnelProtocol === 'HBONE';
      // Only a ztunnel in front of the destination enforces its policies (and must be running).
      if (hbone && !node) return noZtunnel(workload);
      return {
        name: workload.name,
        ip,
        port,
        path: hbone ? 'hbone' : 'tcp',
        workload,
        node,
        authorization: hbone
          ? expectAuthorization(state, { workload: source, ip: sourceIp }, { workload, ip, port })
          : NOT_ENFORCED,
      };
    };

    const to = step.to;
    switch (to.kind) {
      case 'workload': {
        const workload = workloadNamed(plan, to.name);
        if (!workload) return unavailable(`no workload ${to.name} in the mesh config`);
        const destination = destinationOf(workload, APP_PORT);
        if (typeof destination === 'string') return unavailable(destination);
        const ready: ResolvedStep = {
          number,
          source,
          sourceIp,
          sourceNode,
          target: { ip: destination.ip, port: APP_PORT },
          targetName: workload.name,
          destinations: [destination],
          isService: false,
        };
        return { kind: 'ready', step: ready };
      }
      case 'service': {
        const service = serviceNamed(plan, to.hostname);
        const vip = service?.vips[0];
        if (!service || !vip || !service.ports.some((p) => p.servicePort === to.port))
          return unavailable(`no service ${to.hostname}:${String(to.port)} in the mesh config`);
        const destinations = endpointsOf(plan, service).flatMap((w) => {
          // As the caller's ztunnel maps it: the endpoint's own target port first, else the service's.
          const targetPort = resolveTargetPort(service, w.services.get(service.key), to.port);
          const destination = targetPort === undefined ? undefined : destinationOf(w, targetPort);
          return destination === undefined || typeof destination === 'string' ? [] : [destination];
        });
        if (destinations.length === 0) return unavailable(`service ${to.hostname} has no endpoints`);
        const ready: ResolvedStep = {
          number,
          source,
          sourceIp,
          sourceNode,
          target: { ip: vip.ip, port: to.port },
          targetName: `${service.name} (VIP)`,
          destinations,
          isService: true,
        };
        return { kind: 'ready', step: ready };
      }
      case 'outside': {
        const outside: Destination = {
          ...OUTSIDE_APP,
          path: 'passthrough',
          workload: undefined,
          node: undefined,
          authorization: NOT_ENFORCED,
        };
        const ready: ResolvedStep = {
          number,
          source,
          sourceIp,
          sourceNode,
          target: { ip: OUTSIDE_APP.ip, port: OUTSIDE_APP.port },
          targetName: OUTSIDE_APP.name,
          destinations: [outside],
          isService: false,
        };
        return { kind: 'ready', step: ready };
      }
    }
  });
}

function noZtunnel(workload: Workload): string {
  return `${workload.name} is on ${workload.node || 'no node'}, which has no ztunnel here (restart to add one)`;
}
