import { formatBaggage } from '@ambient/hbone';
import type { Workload } from '@ambient/state';

/** Workloads are immutable snapshot values, so each one's header is built once. */
const cache = new WeakMap<Workload, string>();

/** The `baggage` a workload is described by: on the CONNECT we send and on the 200 we answer. */
export function workloadBaggage(workload: Workload): string {
  let header = cache.get(workload);
  if (header === undefined) {
    header = build(workload);
    cache.set(workload, header);
  }
  return header;
}

function build(workload: Workload): string {
  return formatBaggage({
    clusterName: workload.clusterId,
    namespace: workload.namespace,
    workloadType: workload.workloadType,
    workloadName: workload.workloadName || workload.name,
    serviceName: workload.canonicalName,
    serviceVersion: workload.canonicalRevision,
    region: workload.locality?.region,
    zone: workload.locality?.zone,
  });
}
