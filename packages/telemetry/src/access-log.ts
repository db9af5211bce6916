import { destinationPrincipalOf, type ConnectionDescription } from './labels.js';

/** `scope` of every access log line, Istio's log target for them. */
export const ACCESS_LOG_SCOPE = 'access';

export const ACCESS_LOG_MESSAGE_OPENED = 'connection opened';
export const ACCESS_LOG_MESSAGE_COMPLETE = 'connection complete';

/**
 * One access log line in ztunnel's keys. The identity fields are shared by the opened and complete lines;
 * the rest are set on the complete line only. Undefined fields are left out of the JSON line.
 */
export interface AccessLogLine {
  scope: typeof ACCESS_LOG_SCOPE;
  'src.addr': string;
  'src.workload': string | undefined;
  'src.namespace': string | undefined;
  'src.identity': string | undefined;
  'src.cluster': string | undefined;
  'dst.addr': string;
  'dst.hbone_addr': string | undefined;
  'dst.service': string | undefined;
  'dst.workload': string | undefined;
  'dst.namespace': string | undefined;
  'dst.identity': string | undefined;
  'dst.cluster': string | undefined;
  direction: 'inbound' | 'outbound';
  /** Our addition (ztunnel's access lines carry no trace context): the HBONE traceparent's trace id. */
  trace_id: string | undefined;
  /** From the reporting side's perspective, unlike the metrics. */
  bytes_sent?: number;
  bytes_recv?: number;
  /** `<n>ms` */
  duration?: string;
  error?: string;
}

function present(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

/**
 * Who talked to whom, in ztunnel's access log keys. Workloads are named by pod, falling back to
 * canonical service; identities appear only under mTLS, where they were proven.
 */
export function accessLogLine(description: ConnectionDescription): AccessLogLine {
  const source = description.source;
  const destination = description.destination;
  const mtls = description.securityPolicy === 'mutual_tls';
  return {
    scope: ACCESS_LOG_SCOPE,
    'src.addr': description.sourceAddress,
    'src.workload': present(source?.name) ?? present(source?.canonicalName),
    'src.namespace': present(source?.namespace),
    'src.identity': mtls ? present(description.sourcePrincipal) : undefined,
    'src.cluster': present(source?.clusterId),
    'dst.addr': description.destinationAddress,
    'dst.hbone_addr': present(description.hboneTarget),
    'dst.service': present(description.destinationService?.hostname),
    'dst.workload': present(destination?.name) ?? present(destination?.canonicalName),
    'dst.namespace': present(destination?.namespace),
    'dst.identity': mtls ? destinationPrincipalOf(description) : undefined,
    'dst.cluster': present(destination?.clusterId),
    direction: description.direction,
    trace_id: present(description.traceId),
  };
}
