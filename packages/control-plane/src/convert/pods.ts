import { isIP } from 'node:net';
import type { IPod } from 'kubernetes-models/v1/Pod';
import { createWorkload, type Workload, type WorkloadStatus } from '@ambient/state';
import { selectedServicePorts, type NamedPorts } from './endpoint-ports.js';
import { tunnelProtocolOf } from './enrollment.js';
import { field } from './field-path.js';
import { namespaceLabels, type Accepted } from './inventory.js';
import { ObjectProblems, showValue } from './problems.js';
import type { WorkloadContext } from './workload-context.js';
import { canonicalService, podWorkload } from './workload-names.js';

type PodStatus = NonNullable<IPod['status']>;
type PodSpec = NonNullable<IPod['spec']>;

/** Succeeded and Failed pods have stopped for good; istiod drops them. */
const TERMINAL_PHASES = new Set(['Succeeded', 'Failed']);
/** Init containers with this restart policy are sidecars: their ports serve like any container's. */
const SIDECAR_RESTART_POLICY = 'Always';

/** `status.podIPs`, else `status.podIP`, with the field each came from. */
function podIps(status: PodStatus): { ip: string; at: string }[] {
  const listed = status.podIPs ?? [];
  if (listed.length > 0)
    return listed.map((entry, index) => ({ ip: entry.ip, at: field('status', 'podIPs', index, 'ip') }));
  return status.podIP === undefined || status.podIP === '' ? [] : [{ ip: status.podIP, at: 'status.podIP' }];
}

/** Running and Ready; a Running pod that reports no Ready condition (hand-written status) counts as ready. */
function statusOf(pod: IPod): WorkloadStatus {
  if (pod.metadata?.deletionTimestamp !== undefined) return 'Unhealthy';
  if (pod.status?.phase !== 'Running') return 'Unhealthy';
  const ready = (pod.status.conditions ?? []).find((condition) => condition.type === 'Ready');
  return ready === undefined || ready.status === 'True' ? 'Healthy' : 'Unhealthy';
}

/** A TCP container port by name, as Kubernetes resolves a Service's named targetPort. */
function containerPorts(spec: PodSpec): NamedPorts {
  const containers = [
    ...spec.containers,
    ...(spec.initContainers ?? []).filter((c) => c.restartPolicy === SIDECAR_RESTART_POLICY),
  ];
  return (name) => {
    for (const container of containers) {
      for (const port of container.ports ?? []) {
        if (port.name === name && (port.protocol ?? 'TCP') === 'TCP') return port.containerPort;
      }
    }
    return undefined;
  };
}

/**
 * A Pod → Workload `<clusterId>//Pod/<namespace>/<name>`. A pod without an IP is not scheduled yet
 * and a terminal one is gone: both are skipped without a problem.
 */
export function convertPod(pod: Accepted<IPod>, context: WorkloadContext): Workload | undefined {
  const { options } = context;
  const status = pod.value.status ?? {};
  if (status.phase !== undefined && TERMINAL_PHASES.has(status.phase)) return undefined;
  const ips = podIps(status);
  if (ips.length === 0) return undefined;
  const problems = new ObjectProblems(context.problems, pod.ref);
  for (const { ip, at } of ips) {
    if (isIP(ip) === 0) problems.error(at, `${showValue(ip)} is not an IP address`);
  }
  if (problems.hasErrors) return undefined;

  const spec: PodSpec = pod.value.spec ?? { containers: [] };
  const labels = pod.labels;
  const names = podWorkload(pod.name, labels, pod.value.metadata?.ownerReferences ?? []);
  const waypoint = context.waypoints.forWorkload({ ref: pod.ref, namespace: pod.namespace, labels });
  return createWorkload({
    uid: `${options.clusterId}//Pod/${pod.namespace}/${pod.name}`,
    name: pod.name,
    namespace: pod.namespace,
    workloadIps: ips.map(({ ip }) => ip),
    network: options.network,
    tunnelProtocol: tunnelProtocolOf({
      labels,
      annotations: pod.annotations,
      namespaceLabels: namespaceLabels(context.inventory, pod.namespace),
      hostNetwork: spec.hostNetwork === true,
    }),
    trustDomain: options.trustDomain,
    serviceAccount: spec.serviceAccountName ?? '',
    node: spec.nodeName ?? '',
    ...names,
    ...canonicalService(labels, names.workloadName),
    clusterId: options.clusterId,
    status: statusOf(pod.value),
    services: selectedServicePorts(context.services, pod.namespace, labels, containerPorts(spec), false),
    authorizationPolicies: context.policies.keysFor(pod.namespace, labels),
    ...(waypoint === undefined ? {} : { waypoint }),
  });
}
