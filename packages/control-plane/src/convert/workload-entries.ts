import { isIP } from 'node:net';
import type { IWorkloadEntry } from '@kubernetes-models/istio/networking.istio.io/v1/WorkloadEntry';
import { createWorkload, type Workload } from '@ambient/state';
import { selectedServicePorts } from './endpoint-ports.js';
import { tunnelProtocolOf } from './enrollment.js';
import { namespaceLabels, type Accepted } from './inventory.js';
import type { Labels } from './labels.js';
import { ObjectProblems, showValue } from './problems.js';
import { parseLocality, type WorkloadContext } from './workload-context.js';
import { canonicalService, workloadEntryName } from './workload-names.js';

/**
 * A WorkloadEntry → Workload `<clusterId>/networking.istio.io/WorkloadEntry/<namespace>/<name>`:
 * a VM or any address outside Kubernetes, selected by Services and ServiceEntries like a pod.
 */
export function convertWorkloadEntry(
  entry: Accepted<IWorkloadEntry>,
  context: WorkloadContext,
): Workload | undefined {
  const { options } = context;
  const spec = entry.value.spec;
  const problems = new ObjectProblems(context.problems, entry.ref);
  const address = spec.address ?? '';
  if (address === '') problems.error('spec.address', 'required: ztunnel reaches workloads by IP');
  else if (isIP(address) === 0) {
    problems.error(
      'spec.address',
      `${showValue(address)} is not an IP address (hostname addresses are not supported)`,
    );
  }
  if (problems.hasErrors) return undefined;

  // Labels may be written in either place; the object's own win (istiod merges them the same way).
  const labels: Labels = { ...spec.labels, ...entry.labels };
  const workloadName = workloadEntryName(entry.name, labels, entry.annotations);
  const waypoint = context.waypoints.forWorkload({ ref: entry.ref, namespace: entry.namespace, labels });
  const locality = parseLocality(spec.locality);
  const ports = spec.ports ?? {};
  return createWorkload({
    uid: `${options.clusterId}/networking.istio.io/WorkloadEntry/${entry.namespace}/${entry.name}`,
    name: entry.name,
    namespace: entry.namespace,
    workloadIps: [address],
    network: spec.network !== undefined && spec.network !== '' ? spec.network : options.network,
    tunnelProtocol: tunnelProtocolOf({
      labels,
      annotations: entry.annotations,
      namespaceLabels: namespaceLabels(context.inventory, entry.namespace),
    }),
    trustDomain: options.trustDomain,
    serviceAccount: spec.serviceAccount ?? '',
    workloadName,
    // istiod reports entries as pods.
    workloadType: 'pod',
    ...canonicalService(labels, workloadName),
    clusterId: options.clusterId,
    status: 'Healthy',
    ...(locality === undefined ? {} : { locality }),
    services: selectedServicePorts(
      context.services,
      entry.namespace,
      labels,
      (name) => (Object.hasOwn(ports, name) ? ports[name] : undefined),
      true,
    ),
    authorizationPolicies: context.policies.keysFor(entry.namespace, labels),
    ...(waypoint === undefined ? {} : { waypoint }),
  });
}
