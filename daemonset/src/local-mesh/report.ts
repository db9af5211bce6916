import { styleText } from 'node:util';
import { formatSocketAddress } from '@ambient/core';
import { rowsFor, type CaRoot, type NodeCertificates } from './certificate-checks.js';
import type { Workload } from '@ambient/state';
import { answerTally, DENIED_STATUS, formatTally, shortIdentity, type CheckLine } from './checks.js';
import { displayPath } from './mesh-folder.js';
import type { MeshPlan } from './mesh-plan.js';
import { summarizePolicy } from './policy-summary.js';
import type { Probe } from './probe.js';
import { formatSample, samplesOf } from '@ambient/testing';
import type { ResolvedStep } from './tour.js';

/** Istio's port numbers; the ztunnels run with their defaults. */
const PORTS = { admin: 15000, stats: 15020, readiness: 15021, socks5: 15080 } as const;
const METRIC_EXCERPT_LABELS = [
  'reporter',
  'source_workload',
  'destination_workload',
  'connection_security_policy',
];
const DENY_EXCERPT_LABELS = ['reporter', 'source_workload', 'destination_workload', 'response_flags'];
const METRIC_EXCERPT_LINES = 4;
const COLUMN_GAP = '  ';

type Style = Parameters<typeof styleText>[0];

/** Colour only for a terminal (styleText checks the stream, NO_COLOR and FORCE_COLOR). */
function paint(style: Style, text: string): string {
  return styleText(style, text, { stream: process.stdout });
}

// A reader that goes away (`| head`) must not crash the launcher before it has stopped its ztunnels.
let stdoutClosed = false;
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  stdoutClosed = true;
});

export function print(text = ''): void {
  if (!stdoutClosed) process.stdout.write(`${text}\n`);
}

export function heading(text: string): string {
  return paint('bold', text);
}

export function dim(text: string): string {
  return paint('dim', text);
}

export function mark(ok: boolean): string {
  return ok ? paint('green', '✓') : paint('red', '✗');
}

export function formatCheck(check: CheckLine, indent: string): string {
  const count = check.count > 1 ? dim(` ×${String(check.count)}`) : '';
  return `${indent}${mark(check.ok)} ${check.ok ? check.text : paint('red', check.text)}${count}`;
}

/**
 * The verdict a demo ends with: "all N checks passed", or the failed ones (an interrupted run
 * counts as failed). Returns whether every check passed.
 */
export function printVerdict(checks: readonly CheckLine[], interrupted: boolean): boolean {
  const failed = checks.filter((check) => !check.ok);
  if (interrupted) failed.push({ kind: 'signal', ok: false, text: 'interrupted by a signal', count: 1 });
  if (failed.length === 0) {
    print(`\n${mark(true)} ${heading(`all ${String(checks.length)} checks passed`)}`);
    return true;
  }
  print(`\n${mark(false)} ${heading(`${String(failed.length)} of ${String(checks.length)} checks failed:`)}`);
  for (const check of failed) print(formatCheck(check, '  '));
  return false;
}

/** Left-aligned columns, each as wide as its widest cell. */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join(COLUMN_GAP)
      .trimEnd(),
  );
}

/** Who runs where: the control plane, nodes with their ztunnel and pods, then services and policies. */
export function formatMeshOverview(
  plan: MeshPlan,
  controlPlaneAddress: string,
  logPaths: readonly string[],
): string[] {
  const folder = displayPath(plan.configDir);
  const rows = [
    [
      'control plane',
      `CA + xDS ${controlPlaneAddress}`,
      `serves ${folder} to the ztunnels, issues every workload certificate`,
    ],
  ];
  const describe = (w: Workload): string =>
    `${w.name} ${w.workloadIps.join(',')}${w.tunnelProtocol === 'HBONE' ? '' : ' (not in the mesh)'}`;
  for (const node of plan.nodes) {
    rows.push([node.name, `ztunnel ${node.instanceIp}`, node.workloads.map(describe).join(', ')]);
  }
  for (const node of new Set(plan.unplaced.map((w) => w.node))) {
    const pods = plan.unplaced.filter((w) => w.node === node).map(describe);
    rows.push([node || '(no node)', 'no ztunnel here', pods.join(', ')]);
  }
  for (const service of plan.snapshot.services) {
    const vips = service.vips.map((vip) => vip.ip).join(',');
    const ports = service.ports.map((p) => `${String(p.servicePort)}→${String(p.targetPort)}`).join(',');
    const endpoints = plan.snapshot.workloads.filter((w) => w.services.has(service.key)).map((w) => w.name);
    rows.push(['service', service.hostname, `VIP ${vips} port ${ports}, endpoints ${endpoints.join(', ')}`]);
  }
  for (const policy of plan.snapshot.authorizations ?? []) {
    rows.push(['policy', policy.key, summarizePolicy(policy, plan.snapshot.workloads)]);
  }
  const lines = alignColumns(rows).map((line) => `  ${line}`);
  lines.push(`  ${dim(`mesh config ${folder}/ (Kubernetes YAML; npm start follows edits)`)}`);
  lines.push(`  ${dim(`logs ${logPaths.join('  ')}`)}`);
  return lines;
}

export const STEP_HEADER = [
  '#',
  'from',
  'to',
  'path',
  'identities (mTLS, as logged)',
  'bytes out/back',
  'answered by',
];

/** One readable line per step: what the caller did and what the ztunnels say happened. */
export function stepRow(step: ResolvedStep, probes: readonly Probe[]): string[] {
  const first = probes[0];
  const answered = answerTally(probes);
  // Refusals the policies in force call for are the step working, not failing.
  const refused = probes.filter(
    (p) => p.answerer === undefined && p.destination?.authorization.allowed === false,
  );
  const failure = probes.find((p) => p.error !== undefined && !refused.includes(p))?.error;
  let outcome = formatTally(answered);
  const denial = refused[0];
  if (denial) {
    const reason = typeof denial.inbound?.error === 'string' ? denial.inbound.error : 'denied';
    outcome =
      answered.size === 0
        ? `nobody: ${reason}`
        : `${outcome}; refused${refused.length > 1 ? ` ×${String(refused.length)}` : ''}`;
  }
  return [
    String(step.number),
    step.source.name,
    `${step.targetName} ${formatSocketAddress(step.target.ip, step.target.port)}`,
    pathOf(first),
    identitiesOf(first),
    first?.reply === undefined ? '-' : `${String(first.requestBytes)} / ${String(first.replyBytes)}`,
    failure === undefined ? outcome : `failed: ${failure}`,
  ];
}

/** What the caller's ztunnel logged about the route (and a CONNECT the destination refused). */
function pathOf(probe: Probe | undefined): string {
  const line = probe?.outbound;
  if (!line) return '?';
  if (typeof line.error === 'string' && DENIED_STATUS.test(line.error)) return 'denied (401)';
  if (line['dst.hbone_addr'] !== undefined) return 'HBONE';
  if (line['dst.workload'] !== undefined) return 'plain TCP';
  return 'passthrough';
}

/** Identities as the answering ztunnel proved them (the client certificate), else the caller's view. */
function identitiesOf(probe: Probe | undefined): string {
  const line = probe?.inbound ?? probe?.outbound;
  if (line?.['src.identity'] === undefined) return '-';
  return `${shortIdentity(line['src.identity'])} → ${shortIdentity(line['dst.identity'])}`;
}

/** The control plane's address and trust bundle, then each ztunnel's HTTP endpoints and SOCKS5. */
export function formatEndpoints(
  plan: MeshPlan,
  controlPlane: { address: string; rootCertPath: string },
): string[] {
  const controlPlaneRow = [
    'control plane',
    `https://${controlPlane.address}`,
    'gRPC: Delta xDS and istio.v1.auth.IstioCertificateService',
    `root ${controlPlane.rootCertPath}`,
  ];
  const nodeRows = plan.nodes.map((node) => {
    const at = (port: number, path = ''): string =>
      `http://${formatSocketAddress(node.instanceIp, port)}${path}`;
    return [
      node.name,
      at(PORTS.stats, '/metrics'),
      at(PORTS.admin, '/config_dump'),
      at(PORTS.readiness, '/healthz/ready'),
      `socks5 ${formatSocketAddress(node.instanceIp, PORTS.socks5)}`,
    ];
  });
  // The control plane's columns mean other things than a ztunnel's: aligned apart, its name column kept as wide.
  const nameWidth = Math.max(controlPlaneRow[0]?.length ?? 0, ...nodeRows.map((row) => row[0]?.length ?? 0));
  const pad = (rows: string[][]): string[][] =>
    rows.map(([name = '', ...rest]) => [name.padEnd(nameWidth), ...rest]);
  return [...alignColumns(pad([controlPlaneRow])), ...alignColumns(pad(nodeRows))].map((line) => `  ${line}`);
}

/**
 * The Certificates section: who signed them (the CA's root), then each ztunnel's certificate for
 * each mesh identity on its node, as its /config_dump shows it.
 */
export function formatCertificates(
  observed: readonly NodeCertificates[],
  caAddress: string,
  root: CaRoot | undefined,
): string[] {
  const signer = root
    ? `root ${root.subject}, SHA-256 ${root.fingerprint256}`
    : 'root certificate unreadable';
  const lines = [`  CA ${caAddress}  ${dim(signer)}`];
  const rows: string[][] = [];
  for (const node of observed) {
    rowsFor(node).forEach((row, index) => {
      const name = index === 0 ? node.node.name : '';
      const identity = shortIdentity(node.node.meshIdentities[index]);
      rows.push(
        row
          ? [
              name,
              identity,
              row.state,
              `serial ${row.serialNumber ?? '-'}`,
              `expires ${formatTime(row.expirationTime)}`,
            ]
          : [name, identity, 'no certificate'],
      );
    });
  }
  lines.push(...alignColumns(rows).map((line) => `  ${line}`));
  return lines;
}

/** `2026-11-23T06:24:17.000Z` → `2026-11-23 06:24:17Z`. */
function formatTime(iso: string | undefined): string {
  if (iso === undefined) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** A few `istio_tcp_connections_opened_total` samples of one ztunnel, trimmed to the labels that tell them apart. */
export function formatMetricExcerpt(metricsText: string): string[] {
  return excerpt(
    metricsText,
    'istio_tcp_connections_opened_total',
    { reporter: 'destination' },
    METRIC_EXCERPT_LABELS,
  );
}

/** The connections one ztunnel's policies denied, as its `istio_tcp_connections_failed_total` counts them. */
export function formatDenyExcerpt(metricsText: string): string[] {
  return excerpt(
    metricsText,
    'istio_tcp_connections_failed_total',
    { reporter: 'destination', response_flags: 'DENY' },
    DENY_EXCERPT_LABELS,
  );
}

function excerpt(
  metricsText: string,
  name: string,
  wanted: Readonly<Record<string, string>>,
  labels: readonly string[],
): string[] {
  return samplesOf(metricsText, name)
    .filter((sample) => Object.entries(wanted).every(([label, value]) => sample.labels.get(label) === value))
    .slice(0, METRIC_EXCERPT_LINES)
    .map((sample) => `  ${formatSample(sample, labels).slice(sample.name.length)}`);
}
