import { errorMessage } from '@ambient/core';
import {
  CA_ISSUED_MESSAGE,
  parseCertificateRows,
  requestCounts,
  type CertificateRow,
  type NodeCertificates,
  type RequestCounts,
} from './certificate-checks.js';
import type { LogFeed, LogLine } from './log-feed.js';
import type { NodePlan } from './mesh-plan.js';
import { fetchConfigDump, fetchMetrics } from './probe.js';
import type { ZtunnelProcess } from './ztunnel-process.js';

/**
 * The CA logs a certificate before its answer leaves, but its log reaches the launcher through a
 * pipe of its own: this bounds how far behind the ztunnel's view that pipe may be.
 */
const CA_LOG_WAIT_MS = 2_000;

/** A ztunnel's certificates (/config_dump), its CSR counter (/metrics), and the CA's log line for each. */
export async function observeCertificates(
  node: NodePlan,
  ztunnel: ZtunnelProcess,
  caLogs: LogFeed,
): Promise<NodeCertificates> {
  let rows: CertificateRow[] | undefined;
  let requests: RequestCounts | undefined;
  const errors: string[] = [];
  try {
    rows = parseCertificateRows(await fetchConfigDump(ztunnel));
  } catch (err) {
    errors.push(`/config_dump: ${errorMessage(err)}`);
  }
  try {
    requests = requestCounts(await fetchMetrics(ztunnel));
  } catch (err) {
    errors.push(`/metrics: ${errorMessage(err)}`);
  }
  const serials = (rows ?? []).flatMap((row) =>
    row.serialNumber === undefined ? [] : [row.serialNumber.toLowerCase()],
  );
  const found = await Promise.all(
    serials.map(async (serial) => [serial, await issuedLine(caLogs, serial)] as const),
  );
  const issued = new Map<string, LogLine>();
  for (const [serial, line] of found) if (line) issued.set(serial, line);
  return { node, rows, requests, error: errors.length === 0 ? undefined : errors.join('; '), issued };
}

function issuedLine(caLogs: LogFeed, serial: string): Promise<LogLine | undefined> {
  return caLogs.waitFor(
    0,
    (line) =>
      line.message === CA_ISSUED_MESSAGE &&
      typeof line.serial === 'string' &&
      line.serial.toLowerCase() === serial,
    CA_LOG_WAIT_MS,
  );
}
