import { normalizeIp } from '@ambient/core';
import { formatIdentity } from '@ambient/identity';

/** How a workload is reached: HBONE to its ztunnel on 15008, or plain TCP (`NONE`: not in the mesh). */
export type TunnelProtocol = 'HBONE' | 'NONE';

export type WorkloadType = 'deployment' | 'cronjob' | 'pod' | 'job';

export type WorkloadStatus = 'Healthy' | 'Unhealthy';

export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subzone: string;
}

/** Where a waypoint is reached: an address, or a service by `namespace/hostname`; HBONE on `hboneMtlsPort`. */
export type GatewayAddress =
  | {
      readonly kind: 'address';
      readonly network: string;
      readonly ip: string;
      readonly hboneMtlsPort: number;
    }
  | {
      readonly kind: 'hostname';
      readonly namespace: string;
      readonly hostname: string;
      readonly hboneMtlsPort: number;
    };

export interface Workload {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  /** Normalised text form (`::ffff:1.2.3.4` is stored as `1.2.3.4`). */
  readonly workloadIps: readonly string[];
  readonly network: string;
  readonly tunnelProtocol: TunnelProtocol;
  readonly trustDomain: string;
  readonly serviceAccount: string;
  readonly node: string;
  readonly canonicalName: string;
  readonly canonicalRevision: string;
  readonly workloadName: string;
  readonly workloadType: WorkloadType;
  readonly clusterId: string;
  readonly status: WorkloadStatus;
  readonly locality?: Locality;
  /** Service key `namespace/hostname` → service port → target port (0 = use the service's target port). */
  readonly services: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** Keys `namespace/name` of the selector-scoped authorization policies that apply to this workload. */
  readonly authorizationPolicies: readonly string[];
  /** The waypoint that traffic to this workload goes through, if any. */
  readonly waypoint?: GatewayAddress;
  /** `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`, derived. */
  readonly identity: string;
}

export interface ServicePort {
  readonly servicePort: number;
  /** 0 = unknown here (a named port): each endpoint's own mapping decides. */
  readonly targetPort: number;
}

export interface ServiceVip {
  /** Empty for the default network. */
  readonly network: string;
  readonly ip: string;
}

export interface Service {
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly vips: readonly ServiceVip[];
  readonly ports: readonly ServicePort[];
  readonly subjectAltNames: readonly string[];
  /** The waypoint that traffic to this service goes through, if any. */
  readonly waypoint?: GatewayAddress;
  /** `namespace/hostname`, derived: the xDS resource name and the key workloads list services by. */
  readonly key: string;
}

export interface Endpoint {
  readonly workload: Workload;
  /** Service port → target port, from the workload's entry for the service (0 = use the service's). */
  readonly targetPorts: ReadonlyMap<number, number>;
}

// Defaults ztunnel applies when converting a workload whose field is empty (reference §4.1).
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const DEFAULT_CLUSTER_ID = 'Kubernetes';

/** The fields a converter supplies; everything optional gets ztunnel's default. */
export interface WorkloadInit {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly workloadIps: readonly string[];
  readonly network?: string;
  readonly tunnelProtocol?: TunnelProtocol;
  readonly trustDomain?: string;
  readonly serviceAccount?: string;
  readonly node?: string;
  readonly canonicalName?: string;
  readonly canonicalRevision?: string;
  readonly workloadName?: string;
  readonly workloadType?: WorkloadType;
  readonly clusterId?: string;
  readonly status?: WorkloadStatus;
  readonly locality?: Locality;
  readonly services?: ReadonlyMap<string, ReadonlyMap<number, number>>;
  readonly authorizationPolicies?: readonly string[];
  readonly waypoint?: GatewayAddress;
}

export interface ServiceInit {
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly vips?: readonly ServiceVip[];
  readonly ports?: readonly ServicePort[];
  readonly subjectAltNames?: readonly string[];
  readonly waypoint?: GatewayAddress;
}

export function serviceKey(namespace: string, hostname: string): string {
  return `${namespace}/${hostname}`;
}

/** Empty strings count as unset, as in the protobuf conversion. */
function orDefault(value: string | undefined, fallback: string): string {
  return value === undefined || value === '' ? fallback : value;
}

/**
 * A frozen workload with ztunnel's conversion defaults applied (empty trust domain, service account
 * and cluster id) and its identity derived. Converters validate first; this only shapes.
 */
export function createWorkload(init: WorkloadInit): Workload {
  const trustDomain = orDefault(init.trustDomain, DEFAULT_TRUST_DOMAIN);
  const serviceAccount = orDefault(init.serviceAccount, DEFAULT_SERVICE_ACCOUNT);
  const services = new Map<string, ReadonlyMap<number, number>>();
  for (const [key, ports] of init.services ?? []) services.set(key, new Map(ports));
  const workload: Workload = {
    uid: init.uid,
    name: init.name,
    namespace: init.namespace,
    workloadIps: Object.freeze(init.workloadIps.map(normalizeIp)),
    network: init.network ?? '',
    tunnelProtocol: init.tunnelProtocol ?? 'NONE',
    trustDomain,
    serviceAccount,
    node: init.node ?? '',
    canonicalName: init.canonicalName ?? '',
    canonicalRevision: init.canonicalRevision ?? '',
    workloadName: init.workloadName ?? '',
    workloadType: init.workloadType ?? 'deployment',
    clusterId: orDefault(init.clusterId, DEFAULT_CLUSTER_ID),
    status: init.status ?? 'Healthy',
    ...(init.locality === undefined ? {} : { locality: Object.freeze({ ...init.locality }) }),
    services,
    authorizationPolicies: Object.freeze([...(init.authorizationPolicies ?? [])]),
    ...(init.waypoint === undefined ? {} : { waypoint: Object.freeze({ ...init.waypoint }) }),
    identity: formatIdentity({ trustDomain, namespace: init.namespace, serviceAccount }),
  };
  return Object.freeze(workload);
}

/** A frozen service with its key derived and VIPs normalised. */
export function createService(init: ServiceInit): Service {
  const service: Service = {
    name: init.name,
    namespace: init.namespace,
    hostname: init.hostname,
    vips: Object.freeze(
      (init.vips ?? []).map((vip) => Object.freeze({ network: vip.network, ip: normalizeIp(vip.ip) })),
    ),
    ports: Object.freeze(
      (init.ports ?? []).map((port) =>
        Object.freeze({ servicePort: port.servicePort, targetPort: port.targetPort }),
      ),
    ),
    subjectAltNames: Object.freeze([...(init.subjectAltNames ?? [])]),
    ...(init.waypoint === undefined ? {} : { waypoint: Object.freeze({ ...init.waypoint }) }),
    key: serviceKey(init.namespace, init.hostname),
  };
  return Object.freeze(service);
}
