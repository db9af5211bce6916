import { X509Certificate } from 'node:crypto';
import { callerName } from './ca-tokens.js';
import { shortIdentity, type CheckLine } from './checks.js';
import type { LogLine } from './log-feed.js';
import type { NodePlan } from './mesh-plan.js';
import { samplesOf } from '@ambient/testing';

/** ztunnel's counter of CSRs sent to the CA, by `result`. */
export const CERTIFICATE_REQUESTS_METRIC = 'istio_ztunnel_certificate_requests_total';
/** What the CA logs for every certificate it signs (with caller, identity and serial). */
export const CA_ISSUED_MESSAGE = 'certificate issued';
const AVAILABLE = 'Available';

/** One row of a ztunnel's /config_dump `certificates`. */
export interface CertificateRow {
  readonly identity: string;
  readonly state: string;
  readonly serialNumber: string | undefined;
  readonly validFrom: string | undefined;
  readonly expirationTime: string | undefined;
}

export interface RequestCounts {
  readonly success: number;
  readonly failure: number;
}

/** What one ztunnel and the CA say about that ztunnel's certificates. */
export interface NodeCertificates {
  readonly node: NodePlan;
  /** Undefined when /config_dump could not be read (`error` says why). */
  readonly rows: readonly CertificateRow[] | undefined;
  /** Undefined when the counter was not in the metrics (or they could not be read). */
  readonly requests: RequestCounts | undefined;
  readonly error: string | undefined;
  /** The CA's `certificate issued` log line for each serial of `rows` that has one, by lower-case serial. */
  readonly issued: ReadonlyMap<string, LogLine>;
}

/** Who the CA is, for a reader to compare with `openssl x509 -fingerprint -sha256`. */
export interface CaRoot {
  readonly subject: string;
  readonly fingerprint256: string;
}

/** The `certificates` of a /config_dump answer; anything that is not a row with an identity is left out. */
export function parseCertificateRows(configDump: unknown): CertificateRow[] {
  if (!isRecord(configDump) || !Array.isArray(configDump.certificates)) return [];
  const rows: CertificateRow[] = [];
  for (const item of configDump.certificates as unknown[]) {
    if (!isRecord(item) || typeof item.identity !== 'string') continue;
    rows.push({
      identity: item.identity,
      state: typeof item.state === 'string' ? item.state : 'unknown',
      serialNumber: optionalString(item.serialNumber),
      validFrom: optionalString(item.validFrom),
      expirationTime: optionalString(item.expirationTime),
    });
  }
  return rows;
}

/** ztunnel's CSR counter from a metrics text; undefined when it has none. */
export function requestCounts(metricsText: string): RequestCounts | undefined {
  const samples = samplesOf(metricsText, CERTIFICATE_REQUESTS_METRIC);
  if (samples.length === 0) return undefined;
  const sum = (result: string): number =>
    samples.filter((s) => s.labels.get('result') === result).reduce((total, s) => total + s.value, 0);
  return { success: sum('success'), failure: sum('failure') };
}

/** The first certificate of a PEM bundle (the CA's root-cert.pem). */
export function describeRoot(pem: string): CaRoot {
  const root = new X509Certificate(pem);
  return { subject: root.subject.split('\n').join(', '), fingerprint256: root.fingerprint256 };
}

/** The rows a ztunnel owes: one per mesh identity of its node, in the node's order. */
export function rowsFor(observed: NodeCertificates): (CertificateRow | undefined)[] {
  return observed.node.meshIdentities.map((identity) => observed.rows?.find((r) => r.identity === identity));
}

/**
 * What the local mesh promises about one node's certificates: one Available certificate per mesh
 * identity, each its own (a serial of its own); each signed by the CA for that ztunnel (the CA's
 * log names it); and the ztunnel's counter showing the requests succeeded.
 */
export function checkCertificates(observed: NodeCertificates): CheckLine[] {
  return [
    { kind: 'certificates', count: 1, ...checkAvailable(observed) },
    { kind: 'issuer', count: 1, ...checkIssuer(observed) },
    { kind: 'requests', count: 1, ...checkRequests(observed) },
  ];
}

type Verdict = Omit<CheckLine, 'kind' | 'count'>;

function checkAvailable(observed: NodeCertificates): Verdict {
  const { node } = observed;
  const wanted = node.meshIdentities;
  if (wanted.length === 0)
    return { ok: observed.rows !== undefined, text: `${node.name}: no mesh workloads, no certificates` };
  const expected = `expected an ${AVAILABLE} certificate for each of ${wanted.map(shortIdentity).join(', ')}`;
  if (observed.rows === undefined)
    return { ok: false, text: `${node.name}: ${expected}; ${observed.error ?? 'no /config_dump'}` };
  const problems: string[] = [];
  const bySerial = new Map<string, string>();
  rowsFor(observed).forEach((row, index) => {
    const identity = shortIdentity(wanted[index]);
    if (!row) {
      problems.push(`none for ${identity}`);
      return;
    }
    if (row.state !== AVAILABLE) problems.push(`${identity} is ${row.state}`);
    const serial = row.serialNumber?.toLowerCase();
    if (serial === undefined) {
      if (row.state === AVAILABLE) problems.push(`${identity} has no serial`);
      return;
    }
    const twin = bySerial.get(serial);
    if (twin !== undefined) problems.push(`${twin} and ${identity} share serial ${serial}`);
    bySerial.set(serial, identity);
  });
  if (problems.length > 0) return { ok: false, text: `${node.name}: ${expected}; ${problems.join(', ')}` };
  const count = String(wanted.length);
  return {
    ok: true,
    text: `${node.name}: an ${AVAILABLE} certificate for each of its ${count} mesh identities, ${count} different serials`,
  };
}

function checkIssuer(observed: NodeCertificates): Verdict {
  const { node } = observed;
  const caller = callerName(node.name);
  const rows = rowsFor(observed).filter((row) => row?.serialNumber !== undefined);
  if (node.meshIdentities.length === 0)
    return { ok: true, text: `${node.name}: nothing for the CA to issue` };
  if (rows.length === 0)
    return { ok: false, text: `${node.name}: no certificate serial to look for in the CA's log` };
  const problems: string[] = [];
  for (const row of rows) {
    if (!row?.serialNumber) continue;
    const what = `${row.serialNumber} (${shortIdentity(row.identity)})`;
    const line = observed.issued.get(row.serialNumber.toLowerCase());
    if (!line) problems.push(`${what} is not in its log`);
    else if (line.identity !== row.identity) problems.push(`${what} was issued for ${String(line.identity)}`);
    else if (line.caller !== caller) problems.push(`${what} was issued to ${String(line.caller)}`);
  }
  return problems.length === 0
    ? { ok: true, text: `${node.name}: the CA's log shows it issued each of them to ${caller}` }
    : {
        ok: false,
        text: `${node.name}: expected the CA to have issued each to ${caller}; ${problems.join(', ')}`,
      };
}

function checkRequests(observed: NodeCertificates): Verdict {
  const { node, requests } = observed;
  const where = `${node.name}: ${CERTIFICATE_REQUESTS_METRIC}`;
  if (!requests) return { ok: false, text: `${where} is missing from its metrics` };
  const wanted = node.meshIdentities.length;
  const counted = `${String(requests.success)} successful, ${String(requests.failure)} failed`;
  // More successes than identities is fine (a refresh); a failure against a CA that was up is not.
  const ok = requests.success >= wanted && requests.failure === 0;
  return ok
    ? { ok, text: `${where}: ${counted}` }
    : { ok, text: `${where}: expected at least ${String(wanted)} successful and none failed; ${counted}` };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
