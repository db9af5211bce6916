/** What istiod would know from its own configuration; every field has istiod's default. */
export interface ConvertOptions {
  /** The first part of every workload uid. Default `Kubernetes`. */
  readonly clusterId?: string;
  /** Trust domain of the workloads' SPIFFE identities. Default `cluster.local`. */
  readonly trustDomain?: string;
  /** Policies here without a selector apply mesh-wide. Default `istio-system`. */
  readonly rootNamespace?: string;
  /** Service hostnames are `<name>.<namespace>.svc.<domainSuffix>`. Default `cluster.local`. */
  readonly domainSuffix?: string;
  /** The network of workloads and service VIPs that name none. Default: the default network (``). */
  readonly network?: string;
}

export type ResolvedConvertOptions = Required<ConvertOptions>;

export const DEFAULT_CONVERT_OPTIONS: ResolvedConvertOptions = Object.freeze({
  clusterId: 'Kubernetes',
  trustDomain: 'cluster.local',
  rootNamespace: 'istio-system',
  domainSuffix: 'cluster.local',
  network: '',
});

/** Empty strings count as unset, as they do in istiod's flags. */
export function resolveConvertOptions(options: ConvertOptions): ResolvedConvertOptions {
  const pick = (value: string | undefined, fallback: string): string =>
    value === undefined || value === '' ? fallback : value;
  return {
    clusterId: pick(options.clusterId, DEFAULT_CONVERT_OPTIONS.clusterId),
    trustDomain: pick(options.trustDomain, DEFAULT_CONVERT_OPTIONS.trustDomain),
    rootNamespace: pick(options.rootNamespace, DEFAULT_CONVERT_OPTIONS.rootNamespace),
    domainSuffix: pick(options.domainSuffix, DEFAULT_CONVERT_OPTIONS.domainSuffix),
    network: options.network ?? DEFAULT_CONVERT_OPTIONS.network,
  };
}

/** `<name>.<namespace>.svc.<domainSuffix>`: a Kubernetes Service's hostname. */
export function kubeServiceHostname(name: string, namespace: string, domainSuffix: string): string {
  return `${name}.${namespace}.svc.${domainSuffix}`;
}
