/** What telemetry needs to know about a workload; the state package's Workload satisfies it structurally. */
export interface WorkloadInfo {
  /** Pod (or WorkloadEntry) name. */
  readonly name: string;
  readonly namespace: string;
  /** The owning workload (Deployment, ...); '' falls back to `name`. */
  readonly workloadName: string;
  readonly canonicalName: string;
  readonly canonicalRevision: string;
  readonly clusterId: string;
  readonly trustDomain: string;
  readonly serviceAccount: string;
  readonly locality?: { readonly region: string; readonly zone: string };
}

export interface ServiceInfo {
  readonly hostname: string;
  readonly name: string;
  readonly namespace: string;
}

/** `source` when ztunnel reports an outbound connection, `destination` for inbound. */
export type Reporter = 'source' | 'destination';

export type SecurityPolicy = 'mutual_tls' | 'unknown';

export interface ConnectionDescription {
  reporter: Reporter;
  source?: WorkloadInfo | undefined;
  /** Full `spiffe://` URI, only when proven by mTLS (inbound) or our own identity (outbound HBONE). */
  sourcePrincipal?: string | undefined;
  destination?: WorkloadInfo | undefined;
  destinationService?: ServiceInfo | undefined;
  /** Full `spiffe://` URI; when absent, the destination workload's own identity is used (as Istio does). */
  destinationPrincipal?: string | undefined;
  securityPolicy: SecurityPolicy;
  direction: 'inbound' | 'outbound';
  /** `ip:port` */
  sourceAddress: string;
  /** Next hop `ip:port` (e.g. podIP:15008 for HBONE). */
  destinationAddress: string;
  /** CONNECT authority when HBONE. */
  hboneTarget?: string | undefined;
  /** W3C trace id (32 hex) from the HBONE `traceparent`, to correlate both ends' access lines. */
  traceId?: string | undefined;
}

/** Istio's value for any label we know nothing about. */
export const UNKNOWN_LABEL_VALUE = 'unknown';

/** The traffic label set of Istio's ztunnel, in its order (the order also fixes the exposition order). */
export const TRAFFIC_LABEL_NAMES = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_service',
  'destination_service_namespace',
  'destination_service_name',
  'destination_workload',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_cluster',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
  'source_region',
  'source_zone',
  'destination_region',
  'destination_zone',
] as const;

export type TrafficLabelName = (typeof TRAFFIC_LABEL_NAMES)[number];

export type TrafficLabels = Readonly<Record<TrafficLabelName, string>>;

/** ztunnel carries raw TCP only; it never learns the application protocol. */
const REQUEST_PROTOCOL_TCP = 'tcp';

function orUnknown(value: string | undefined): string {
  return value === undefined || value === '' ? UNKNOWN_LABEL_VALUE : value;
}

/** The SPIFFE identity a workload runs as, or undefined when its trust domain or service account is unset. */
export function workloadPrincipal(workload: WorkloadInfo): string | undefined {
  if (workload.trustDomain === '' || workload.serviceAccount === '') return undefined;
  return `spiffe://${workload.trustDomain}/ns/${workload.namespace}/sa/${workload.serviceAccount}`;
}

/**
 * The destination principal reported: an explicitly known one wins, else the destination workload's own
 * identity. Unlike the source, Istio does not require proof here: the client chose whom it dialled.
 */
export function destinationPrincipalOf(description: ConnectionDescription): string | undefined {
  const explicit = description.destinationPrincipal;
  if (explicit !== undefined && explicit !== '') return explicit;
  return description.destination === undefined ? undefined : workloadPrincipal(description.destination);
}

/**
 * The full label object for one connection. Built once per connection: prom-client keeps a reference to
 * the first object it sees for a series, so the result must never be mutated.
 */
export function trafficLabels(description: ConnectionDescription, responseFlags: string): TrafficLabels {
  const source = description.source;
  const destination = description.destination;
  const service = description.destinationService;
  return {
    reporter: description.reporter,
    source_workload: orUnknown(source === undefined ? undefined : source.workloadName || source.name),
    source_canonical_service: orUnknown(source?.canonicalName),
    source_canonical_revision: orUnknown(source?.canonicalRevision),
    source_workload_namespace: orUnknown(source?.namespace),
    source_principal: orUnknown(description.sourcePrincipal),
    source_app: orUnknown(source?.canonicalName),
    source_version: orUnknown(source?.canonicalRevision),
    source_cluster: orUnknown(source?.clusterId),
    destination_service: orUnknown(service?.hostname),
    destination_service_namespace: orUnknown(service?.namespace),
    destination_service_name: orUnknown(service?.name),
    destination_workload: orUnknown(
      destination === undefined ? undefined : destination.workloadName || destination.name,
    ),
    destination_canonical_service: orUnknown(destination?.canonicalName),
    destination_canonical_revision: orUnknown(destination?.canonicalRevision),
    destination_workload_namespace: orUnknown(destination?.namespace),
    destination_principal: orUnknown(destinationPrincipalOf(description)),
    destination_app: orUnknown(destination?.canonicalName),
    destination_version: orUnknown(destination?.canonicalRevision),
    destination_cluster: orUnknown(destination?.clusterId),
    request_protocol: REQUEST_PROTOCOL_TCP,
    response_flags: responseFlags,
    connection_security_policy: description.securityPolicy,
    source_region: orUnknown(source?.locality?.region),
    source_zone: orUnknown(source?.locality?.zone),
    destination_region: orUnknown(destination?.locality?.region),
    destination_zone: orUnknown(destination?.locality?.zone),
  };
}

/** A copy of `labels` with another response flag; the only per-connection copy, taken on failure. */
export function withResponseFlags(labels: TrafficLabels, responseFlags: string): TrafficLabels {
  return { ...labels, response_flags: responseFlags };
}
