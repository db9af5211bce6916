import type { IServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import type { Authorization, Service, StateSnapshot, Workload } from '@ambient/state';
import type { SourceObject, SourceProblem } from '../sources/source.js';
import { convertAuthorizationPolicy, type ConvertedAuthorization } from './authorization-policy.js';
import { readInventory, type Accepted } from './inventory.js';
import { convertKubeService } from './kube-services.js';
import { resolveConvertOptions, type ConvertOptions } from './options.js';
import { convertPeerAuthentications } from './peer-authentication.js';
import { convertPod } from './pods.js';
import { PolicyAttachment } from './policy-attachment.js';
import { ProblemCollector } from './problems.js';
import { convertServiceEntry, convertServiceEntryEndpoints } from './service-entries.js';
import type { ServiceInfo } from './service-info.js';
import { WaypointResolver } from './waypoints.js';
import type { WorkloadContext } from './workload-context.js';
import { convertWorkloadEntry } from './workload-entries.js';

export interface ConversionResult {
  /** Workloads by uid, services by key, policies by key: the same input always yields the same output. */
  readonly snapshot: StateSnapshot;
  /** Every problem found, each with origin, object and field; the objects they name are left out or degraded. */
  readonly problems: SourceProblem[];
}

function byText<T>(key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const left = key(a);
    const right = key(b);
    return left < right ? -1 : left > right ? 1 : 0;
  };
}

/** Oldest first, then by namespace and name: the order in which ServiceEntries claim hosts. */
function claimOrder<T>(a: Accepted<T>, b: Accepted<T>): number {
  if (a.createdAtMs !== b.createdAtMs) return a.createdAtMs - b.createdAtMs;
  return byText((x: Accepted<T>) => `${x.namespace}/${x.name}`)(a, b);
}

/**
 * Kubernetes objects → the mesh as ztunnel sees it, the way istiod's ambient index builds it:
 * workloads from Pods, WorkloadEntries and ServiceEntry endpoints; services from Services and
 * ServiceEntries; L4 authorization from AuthorizationPolicies and PeerAuthentications. Pure: the
 * result depends only on the objects and the options. Invalid objects are reported and left out;
 * everything else is converted.
 */
export function convertMesh(
  objects: readonly SourceObject[],
  options: ConvertOptions = {},
): ConversionResult {
  const resolved = resolveConvertOptions(options);
  const problems = new ProblemCollector();
  const inventory = readInventory(objects, problems);

  const converted: ConvertedAuthorization[] = [];
  for (const policy of inventory.authorizationPolicies) {
    const result = convertAuthorizationPolicy(policy, resolved.rootNamespace, problems);
    if (result) converted.push(result);
  }
  const peerAuthentication = convertPeerAuthentications(
    inventory.peerAuthentications,
    resolved.rootNamespace,
    problems,
  );
  const waypoints = new WaypointResolver(inventory, resolved, problems);

  const services: ServiceInfo[] = [];
  const takenKeys = new Map<string, string>();
  for (const service of inventory.services) {
    const info = convertKubeService(service, resolved, waypoints, problems);
    if (info === undefined) continue;
    services.push(info);
    takenKeys.set(info.service.key, service.ref.object);
  }
  const entryServices = new Map<Accepted<IServiceEntry>, ServiceInfo[]>();
  for (const entry of [...inventory.serviceEntries].sort(claimOrder)) {
    const infos = convertServiceEntry(entry, resolved, waypoints, takenKeys, problems);
    entryServices.set(entry, infos);
    services.push(...infos);
  }

  const context: WorkloadContext = {
    options: resolved,
    inventory,
    services,
    waypoints,
    policies: new PolicyAttachment(converted, peerAuthentication, resolved.rootNamespace),
    problems,
  };
  const workloads: Workload[] = [];
  for (const pod of inventory.pods) {
    const workload = convertPod(pod, context);
    if (workload) workloads.push(workload);
  }
  for (const entry of inventory.workloadEntries) {
    const workload = convertWorkloadEntry(entry, context);
    if (workload) workloads.push(workload);
  }
  for (const entry of inventory.serviceEntries) {
    workloads.push(...convertServiceEntryEndpoints(entry, entryServices.get(entry) ?? [], context));
  }

  const authorizations: Authorization[] = [
    ...converted.map((c) => c.authorization),
    ...peerAuthentication.authorizations,
  ];
  const snapshot: StateSnapshot = {
    workloads: workloads.sort(byText((w) => w.uid)),
    services: services.map((info) => info.service).sort(byText((s: Service) => s.key)),
    authorizations: authorizations.sort(byText((a) => a.key)),
  };
  return { snapshot, problems: [...problems.problems] };
}
