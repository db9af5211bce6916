import type { Workload } from '@ambient/state';
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

/** One stop of the tour, by the names in the mesh file. */
export interface TourStep {
  readonly from: string;
  readonly to:
    | { readonly kind: 'workload'; readonly name: string }
    | { readonly kind: 'service'; readonly hostname: string; readonly port: number }
    | { readonly kind: 'outside' };
}

/** A pod to a pod on another node; a service VIP; other identities; outside the mesh; not a mesh address. */
export const TOUR: readonly TourStep[] = [
  { from: 'sleep', to: { kind: 'workload', name: 'echo-v1' } },
  { from: 'sleep', to: { kind: 'service', hostname: 'echo.default.svc.cluster.local', port: 80 } },
  { from: 'productpage', to: { kind: 'workload', name: 'reviews' } },
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

/** Finds each step's workloads in the plan; a step whose names the file lacks is reported, not run. */
export function resolveTour(plan: MeshPlan, steps: readonly TourStep[] = TOUR): StepResolution[] {
  return steps.map((step, index) => {
    const number = index + 1;
    const unavailable = (reason: string): StepResolution => ({ kind: 'unavailable', number, reason });
    const source = workloadNamed(plan, step.from);
    const sourceNode = source && nodeOf(plan, source);
    const sourceIp = source?.workloadIps[0];
    if (!source || !sourceNode || sourceIp === undefined) return unavailable(`no workload ${step.from}`);

    const to = step.to;
    switch (to.kind) {
      case 'workload': {
        const workload = workloadNamed(plan, to.name);
        const destination = workload && destinationOf(plan, workload, APP_PORT);
        if (!destination) return unavailable(`no workload ${to.name}`);
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
        const targetPort = service?.ports.find((p) => p.servicePort === to.port)?.targetPort;
        if (!service || !vip || targetPort === undefined)
          return unavailable(`no service ${to.hostname}:${String(to.port)}`);
        const destinations = endpointsOf(plan, service).flatMap(
          (w) => destinationOf(plan, w, targetPort) ?? [],
        );
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

function destinationOf(plan: MeshPlan, workload: Workload, port: number): Destination | undefined {
  const ip = workload.workloadIps[0];
  if (ip === undefined) return undefined;
  return {
    name: workload.name,
    ip,
    port,
    path: workload.tunnelProtocol === 'HBONE' ? 'hbone' : 'tcp',
    workload,
    node: nodeOf(plan, workload),
  };
}
