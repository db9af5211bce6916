import { normalizeIp } from '@ambient/core';
import type { Authorization } from './authorization.js';
import type { Endpoint, Service, Workload } from './model.js';

/** A snapshot of the mesh as the control plane describes it. */
export interface StateSnapshot {
  readonly workloads: readonly Workload[];
  readonly services: readonly Service[];
  /** L4 authorization policies; absent means none. */
  readonly authorizations?: readonly Authorization[];
}

/** Every lookup of one snapshot, built once so that each lookup is a Map hit. */
export interface StateIndex {
  readonly version: number;
  readonly workloads: readonly Workload[];
  readonly services: readonly Service[];
  readonly workloadByUid: ReadonlyMap<string, Workload>;
  /** Key `network/ip`. */
  readonly workloadByNetworkIp: ReadonlyMap<string, Workload>;
  /** Key `ip`, any network. */
  readonly workloadByIp: ReadonlyMap<string, Workload>;
  readonly serviceByNetworkVip: ReadonlyMap<string, Service>;
  readonly serviceByVip: ReadonlyMap<string, Service>;
  readonly serviceByKey: ReadonlyMap<string, Service>;
  readonly servicesByHostname: ReadonlyMap<string, readonly Service[]>;
  /** Service key → healthy endpoints ordered by workload uid; endpoints may precede their service. */
  readonly endpointsByServiceKey: ReadonlyMap<string, readonly Endpoint[]>;
  readonly workloadsByNode: ReadonlyMap<string, readonly Workload[]>;
  readonly authorizations: readonly Authorization[];
  /** Key `namespace/name`. */
  readonly authorizationByKey: ReadonlyMap<string, Authorization>;
  /** NAMESPACE-scoped policies by namespace. */
  readonly namespaceAuthorizations: ReadonlyMap<string, readonly Authorization[]>;
  readonly globalAuthorizations: readonly Authorization[];
}

export const EMPTY_SNAPSHOT: StateSnapshot = Object.freeze({
  workloads: Object.freeze([]),
  services: Object.freeze([]),
  authorizations: Object.freeze([]),
});

export function networkIpKey(network: string, ip: string): string {
  return `${network}/${ip}`;
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function byUid(a: Endpoint, b: Endpoint): number {
  const left = a.workload.uid;
  const right = b.workload.uid;
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Indexes a snapshot. Like ztunnel's insertion semantics, a later record with the same uid (workload) or
 * `namespace/hostname` (service) replaces an earlier one entirely, and a later claim on an address wins.
 */
export function buildStateIndex(snapshot: StateSnapshot, version: number): StateIndex {
  const workloadByUid = new Map<string, Workload>();
  for (const workload of snapshot.workloads) workloadByUid.set(workload.uid, workload);
  const serviceByKey = new Map<string, Service>();
  for (const service of snapshot.services) serviceByKey.set(service.key, service);

  const workloadByNetworkIp = new Map<string, Workload>();
  const workloadByIp = new Map<string, Workload>();
  const workloadsByNode = new Map<string, Workload[]>();
  const endpointsByServiceKey = new Map<string, Endpoint[]>();
  for (const workload of workloadByUid.values()) {
    for (const rawIp of workload.workloadIps) {
      const ip = normalizeIp(rawIp);
      workloadByNetworkIp.set(networkIpKey(workload.network, ip), workload);
      workloadByIp.set(ip, workload);
    }
    pushTo(workloadsByNode, workload.node, workload);
    if (workload.status !== 'Healthy') continue;
    for (const [key, targetPorts] of workload.services) {
      pushTo(endpointsByServiceKey, key, Object.freeze({ workload, targetPorts }));
    }
  }
  for (const endpoints of endpointsByServiceKey.values()) Object.freeze(endpoints.sort(byUid));
  for (const onNode of workloadsByNode.values()) Object.freeze(onNode);

  const serviceByNetworkVip = new Map<string, Service>();
  const serviceByVip = new Map<string, Service>();
  const servicesByHostname = new Map<string, Service[]>();
  for (const service of serviceByKey.values()) {
    for (const vip of service.vips) {
      const ip = normalizeIp(vip.ip);
      serviceByNetworkVip.set(networkIpKey(vip.network, ip), service);
      serviceByVip.set(ip, service);
    }
    pushTo(servicesByHostname, service.hostname, service);
  }
  for (const sameHost of servicesByHostname.values()) Object.freeze(sameHost);

  const authorizationByKey = new Map<string, Authorization>();
  for (const policy of snapshot.authorizations ?? []) authorizationByKey.set(policy.key, policy);
  const namespaceAuthorizations = new Map<string, Authorization[]>();
  const globalAuthorizations: Authorization[] = [];
  for (const policy of authorizationByKey.values()) {
    if (policy.scope === 'NAMESPACE') pushTo(namespaceAuthorizations, policy.namespace, policy);
    else if (policy.scope === 'GLOBAL') globalAuthorizations.push(policy);
  }
  for (const inNamespace of namespaceAuthorizations.values()) Object.freeze(inNamespace);

  return {
    version,
    workloads: Object.freeze([...workloadByUid.values()]),
    services: Object.freeze([...serviceByKey.values()]),
    workloadByUid,
    workloadByNetworkIp,
    workloadByIp,
    serviceByNetworkVip,
    serviceByVip,
    serviceByKey,
    servicesByHostname,
    endpointsByServiceKey,
    workloadsByNode,
    authorizations: Object.freeze([...authorizationByKey.values()]),
    authorizationByKey,
    namespaceAuthorizations,
    globalAuthorizations: Object.freeze(globalAuthorizations),
  };
}
