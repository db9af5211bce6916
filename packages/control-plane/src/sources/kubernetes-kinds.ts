/** One kind the Kubernetes source lists and watches, cluster-wide. */
export interface WatchedKind {
  /** `v1` for the core group, else `group/version`. */
  readonly apiVersion: string;
  readonly kind: string;
  /** The cluster-wide collection, e.g. `/api/v1/pods`. */
  readonly path: string;
  /** Whether the kind comes from a CRD that a cluster may not have installed. */
  readonly custom: boolean;
}

function coreKind(kind: string, plural: string): WatchedKind {
  return { apiVersion: 'v1', kind, path: `/api/v1/${plural}`, custom: false };
}

function customKind(group: string, version: string, kind: string, plural: string): WatchedKind {
  return {
    apiVersion: `${group}/${version}`,
    kind,
    path: `/apis/${group}/${version}/${plural}`,
    custom: true,
  };
}

/** What the ambient control plane converts, in the order objects are handed on. */
export const WATCHED_KINDS: readonly WatchedKind[] = [
  coreKind('Namespace', 'namespaces'),
  coreKind('Pod', 'pods'),
  coreKind('Service', 'services'),
  customKind('networking.istio.io', 'v1', 'ServiceEntry', 'serviceentries'),
  customKind('networking.istio.io', 'v1', 'WorkloadEntry', 'workloadentries'),
  customKind('security.istio.io', 'v1', 'AuthorizationPolicy', 'authorizationpolicies'),
  customKind('security.istio.io', 'v1', 'PeerAuthentication', 'peerauthentications'),
  customKind('gateway.networking.k8s.io', 'v1', 'Gateway', 'gateways'),
];

/** How logs name a kind: `Pod`, `AuthorizationPolicy.security.istio.io/v1`. */
export function kindLabel(kind: WatchedKind): string {
  return kind.apiVersion === 'v1' ? kind.kind : `${kind.kind}.${kind.apiVersion}`;
}
