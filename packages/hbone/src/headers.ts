import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * The metadata headers ztunnel puts on a CONNECT (reference/ztunnel.md §3.2). They describe the
 * client for telemetry only: identity always comes from the certificate, never from these.
 */

export interface BaggageFields {
  clusterName?: string | undefined;
  namespace?: string | undefined;
  workloadType?: string | undefined;
  workloadName?: string | undefined;
  serviceName?: string | undefined;
  serviceVersion?: string | undefined;
  region?: string | undefined;
  zone?: string | undefined;
}

const BAGGAGE_KEYS: readonly (readonly [keyof BaggageFields, string])[] = [
  ['clusterName', 'k8s.cluster.name'],
  ['namespace', 'k8s.namespace.name'],
  ['serviceName', 'service.name'],
  ['serviceVersion', 'service.version'],
  ['region', 'cloud.region'],
  ['zone', 'cloud.availability_zone'],
];
const WORKLOAD_TYPES = new Set(['deployment', 'cronjob', 'pod', 'job']);

/** `k8s.cluster.name=c,k8s.namespace.name=ns,k8s.deployment.name=w,...`; empty items are left out. */
export function formatBaggage(fields: BaggageFields): string {
  const items: string[] = [];
  if (fields.clusterName) items.push(`k8s.cluster.name=${fields.clusterName}`);
  if (fields.namespace) items.push(`k8s.namespace.name=${fields.namespace}`);
  if (fields.workloadName && fields.workloadType && WORKLOAD_TYPES.has(fields.workloadType)) {
    items.push(`k8s.${fields.workloadType}.name=${fields.workloadName}`);
  }
  if (fields.serviceName) items.push(`service.name=${fields.serviceName}`);
  if (fields.serviceVersion) items.push(`service.version=${fields.serviceVersion}`);
  if (fields.region) items.push(`cloud.region=${fields.region}`);
  if (fields.zone) items.push(`cloud.availability_zone=${fields.zone}`);
  return items.join(',');
}

/** Lenient parse of a `baggage` header: unknown keys and malformed items are ignored, never fatal. */
export function parseBaggage(header: string | undefined): BaggageFields {
  const fields: BaggageFields = {};
  if (!header) return fields;
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq).trim();
    // W3C baggage allows `;property` suffixes on values; we only want the value.
    const value =
      item
        .slice(eq + 1)
        .split(';', 1)[0]
        ?.trim() ?? '';
    if (value === '') continue;
    const known = BAGGAGE_KEYS.find(([, name]) => name === key);
    if (known) {
      fields[known[0]] = value;
      continue;
    }
    const workload = /^k8s\.(deployment|cronjob|pod|job)\.name$/.exec(key);
    if (workload) {
      fields.workloadType = workload[1];
      fields.workloadName = value;
    }
  }
  return fields;
}

/** `for="1.2.3.4:5678"` (IPv6 bracketed), plus `;host=<service>` when the intended service is known. */
export function formatForwarded(clientIp: string, clientPort: number, host?: string): string {
  const addr =
    isIP(clientIp) === 6 ? `[${clientIp}]:${String(clientPort)}` : `${clientIp}:${String(clientPort)}`;
  return host ? `for="${addr}";host=${host}` : `for="${addr}"`;
}

/** The first element's `for` and `host` parameters; anything malformed is ignored. */
export function parseForwarded(header: string | undefined): { for?: string; host?: string } {
  const result: { for?: string; host?: string } = {};
  if (!header) return result;
  const first = header.split(',', 1)[0] ?? '';
  for (const pair of first.split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (value === '') continue;
    if (key === 'for') result.for = value;
    else if (key === 'host') result.host = value;
  }
  return result;
}

/** A fresh W3C trace context for each outbound connection: `00-<trace id>-<parent id>-00`. */
export function newTraceparent(): string {
  const bytes = randomBytes(24).toString('hex');
  return `00-${bytes.slice(0, 32)}-${bytes.slice(32, 48)}-00`;
}

export interface TraceContext {
  readonly traceId: string;
  readonly parentId: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** Version 00 only; all-zero ids are invalid per W3C Trace Context. */
export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  if (!header) return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (!match?.[1] || !match[2]) return undefined;
  if (/^0+$/.test(match[1]) || /^0+$/.test(match[2])) return undefined;
  return { traceId: match[1], parentId: match[2] };
}
