import { formatSocketAddress } from '@ambient/core';
import { sumOf } from '@ambient/testing';
import { DEFAULT_PORTS } from '../config.js';
import type { LogLine } from './log-feed.js';
import type { MetricsWindow, Probe } from './probe.js';
import type { ExpectedAuthorization } from './authorization-expectation.js';
import type { Destination, ResolvedStep } from './tour.js';

export interface Check {
  /** What is checked (`reply`, `bytes`, ...): lines of one kind are printed together. */
  readonly kind: string;
  readonly ok: boolean;
  readonly text: string;
}

/** A check that passed `count` times with the same words (or failed once). */
export interface CheckLine extends Check {
  readonly count: number;
}

/** How the caller's ztunnel logs the answer to a CONNECT the destination's policies deny. */
export const DENIED_STATUS = /\b401\b/;
/** Istio's response flag for a connection an authorization policy denied. */
const DENY_FLAG = 'DENY';

/** Everything a step must show, per connection, plus what only several connections can show. */
export function checkStep(step: ResolvedStep, probes: readonly Probe[]): CheckLine[] {
  const checks = probes.flatMap((probe) => checkProbe(step, probe));
  if (step.isService) checks.push({ kind: 'load-balancing', ...checkLoadBalancing(step, probes) });
  return mergeRepeats(checks);
}

/**
 * Identical checks of several connections print once, with a count; different outcomes of one
 * kind (two endpoints of a VIP) stay next to each other.
 */
export function mergeRepeats(checks: readonly Check[]): CheckLine[] {
  const lines: CheckLine[] = [];
  for (const check of checks) {
    const index = lines.findIndex((line) => line.ok === check.ok && line.text === check.text);
    const line = lines[index];
    if (line !== undefined) {
      lines[index] = { ...line, count: line.count + 1 };
      continue;
    }
    const lastOfKind = lines.findLastIndex((other) => other.kind === check.kind);
    lines.splice(lastOfKind < 0 ? lines.length : lastOfKind + 1, 0, { ...check, count: 1 });
  }
  return lines;
}

/** What one check function decides; the caller names its kind. */
type Verdict = Omit<Check, 'kind'>;

export function checkProbe(step: ResolvedStep, probe: Probe): Check[] {
  // Judged by where it went, or, if that is unknown, by where it could only have gone.
  const judged = probe.destination ?? (step.destinations.length === 1 ? step.destinations[0] : undefined);
  if (judged && !judged.authorization.allowed) return checkDenied(step, probe, judged, judged.authorization);
  const checks: Check[] = [{ kind: 'reply', ...checkReply(step, probe, judged) }];
  const answerer = probe.answerer;
  if (!answerer) return checks;
  const hbone = answerer.path === 'hbone';
  if (hbone) checks.push({ kind: 'original-source', ...checkOriginalSource(step, probe, answerer) });
  checks.push({ kind: 'outbound', ...checkOutbound(step, probe, answerer) });
  if (hbone) checks.push({ kind: 'inbound', ...checkInbound(step, probe, answerer) });
  checks.push(
    { kind: 'identities', ...checkIdentities(step, probe, answerer) },
    { kind: 'bytes', ...checkBytes(step, probe, answerer) },
    { kind: 'metrics', ...checkMetrics(step, probe, answerer) },
  );
  return checks;
}

function checkReply(step: ResolvedStep, probe: Probe, judged: Destination | undefined): Verdict {
  const who = step.isService
    ? `an endpoint of ${step.targetName}`
    : step.destinations.map((d) => d.name).join(' or ');
  const ok = probe.answerer !== undefined && probe.parsedReply?.echo === probe.request;
  if (ok)
    return {
      ok,
      text: `reply: ${probe.answerer.name} answered and echoed the ${String(probe.requestBytes)}-byte request`,
    };
  const got = probe.error ?? (probe.reply === undefined ? 'nothing' : JSON.stringify(probe.reply));
  // A refusal the policies do not explain is worth saying so: they were checked before the step.
  const policies =
    judged?.path === 'hbone' && judged.authorization.allowed
      ? ` (the policies in force say ${judged.authorization.reason})`
      : '';
  return {
    ok,
    text: `reply: expected ${who} to answer and echo ${JSON.stringify(probe.request)}; got ${got}${policies}`,
  };
}

function checkOriginalSource(step: ResolvedStep, probe: Probe, answerer: Destination): Verdict {
  const seen = probe.parsedReply?.peerIp;
  const ok = seen === step.sourceIp;
  return ok
    ? { ok, text: `original source: ${answerer.name} saw the caller's own pod IP ${step.sourceIp}` }
    : { ok, text: `original source: ${answerer.name} saw ${String(seen)}, expected ${step.sourceIp}` };
}

function checkOutbound(step: ResolvedStep, probe: Probe, answerer: Destination): Verdict {
  const line = probe.outbound;
  const node = step.sourceNode.name;
  const where = `${node} outbound`;
  if (!line) return { ok: false, text: `${where}: no access log line for this connection` };
  if (line.error !== undefined) return { ok: false, text: `${where}: error ${show(line.error)}` };
  const app = formatSocketAddress(answerer.ip, answerer.port);
  switch (answerer.path) {
    case 'hbone': {
      const hbone = formatSocketAddress(answerer.ip, DEFAULT_PORTS.hbone);
      const ok =
        line['dst.addr'] === hbone &&
        line['dst.hbone_addr'] === app &&
        line['dst.workload'] === answerer.name;
      return ok
        ? { ok, text: `${where}: HBONE to ${hbone}, CONNECT ${app} (${answerer.name})` }
        : {
            ok,
            text: `${where}: expected HBONE to ${hbone} for ${app}; logged ${describeDestination(line)}`,
          };
    }
    case 'tcp': {
      const ok =
        line['dst.addr'] === app &&
        line['dst.hbone_addr'] === undefined &&
        line['dst.workload'] === answerer.name;
      return ok
        ? { ok, text: `${where}: plain TCP to ${app} (${answerer.name} is not in the mesh)` }
        : { ok, text: `${where}: expected plain TCP to ${app}; logged ${describeDestination(line)}` };
    }
    case 'passthrough': {
      const ok =
        line['dst.addr'] === app &&
        line['dst.hbone_addr'] === undefined &&
        line['dst.workload'] === undefined;
      return ok
        ? { ok, text: `${where}: passthrough to ${app} (no workload has that address)` }
        : { ok, text: `${where}: expected passthrough to ${app}; logged ${describeDestination(line)}` };
    }
  }
}

function checkInbound(step: ResolvedStep, probe: Probe, answerer: Destination): Verdict {
  const line = probe.inbound;
  const where = `${answerer.node?.name ?? '?'} inbound`;
  if (!line) return { ok: false, text: `${where}: no access log line for this connection` };
  if (line.error !== undefined) return { ok: false, text: `${where}: error ${show(line.error)}` };
  const ok = line['src.workload'] === step.source.name && line['dst.workload'] === answerer.name;
  return ok
    ? { ok, text: `${where}: HBONE from ${step.source.name} delivered to ${answerer.name}` }
    : {
        ok,
        text: `${where}: expected ${step.source.name} → ${answerer.name}; logged ${String(line['src.workload'])} → ${String(line['dst.workload'])}`,
      };
}

function checkIdentities(step: ResolvedStep, probe: Probe, answerer: Destination): Verdict {
  const source = step.source.identity;
  if (answerer.path !== 'hbone') {
    const line = probe.outbound;
    const ok = line !== undefined && line['src.identity'] === undefined && line['dst.identity'] === undefined;
    return ok
      ? { ok, text: 'identities: none, as there is no mTLS on this path' }
      : { ok, text: `identities: expected none without mTLS; logged ${describeIdentities(line)}` };
  }
  const destination = answerer.workload?.identity;
  const matches = (line: LogLine | undefined): boolean =>
    line?.['src.identity'] === source && line['dst.identity'] === destination;
  const ok = matches(probe.outbound) && matches(probe.inbound);
  return ok
    ? {
        ok,
        text: `identities: ${shortIdentity(source)} → ${shortIdentity(destination)} in both access logs (mTLS)`,
      }
    : {
        ok,
        text:
          `identities: expected ${shortIdentity(source)} → ${shortIdentity(destination)}; ` +
          `outbound logged ${describeIdentities(probe.outbound)}, inbound ${describeIdentities(probe.inbound)}`,
      };
}

function checkBytes(step: ResolvedStep, probe: Probe, answerer: Destination): Verdict {
  const sent = probe.requestBytes;
  const received = probe.replyBytes;
  const counts: string[] = [];
  let ok = true;
  // Each access log counts from its own side: the caller's ztunnel sends the request, the answerer's receives it.
  const outbound = probe.outbound;
  if (outbound?.bytes_sent !== sent || outbound.bytes_recv !== received) ok = false;
  counts.push(`${step.sourceNode.name} ${String(outbound?.bytes_sent)}/${String(outbound?.bytes_recv)}`);
  if (answerer.path === 'hbone') {
    const inbound = probe.inbound;
    if (inbound?.bytes_recv !== sent || inbound.bytes_sent !== received) ok = false;
    counts.push(
      `${answerer.node?.name ?? '?'} ${String(inbound?.bytes_recv)}/${String(inbound?.bytes_sent)}`,
    );
  }
  const nodes = answerer.path === 'hbone' ? 'both access logs' : `${step.sourceNode.name}'s access log`;
  return ok
    ? { ok, text: `bytes: ${String(sent)} out and ${String(received)} back, the same in ${nodes}` }
    : {
        ok,
        text: `bytes: caller sent ${String(sent)}/received ${String(received)}; logged ${counts.join(', ')}`,
      };
}

function checkMetrics(step: ResolvedStep, probe: Probe, answerer: Destination): Verdict {
  const mtls = answerer.path === 'hbone';
  const policy = mtls ? 'mutual_tls' : 'unknown';
  const destinationWorkload = answerer.workload
    ? answerer.workload.workloadName || answerer.workload.name
    : 'unknown';
  const common = {
    source_workload: step.source.workloadName || step.source.name,
    destination_workload: destinationWorkload,
    connection_security_policy: policy,
  };
  const problems: string[] = [];
  const reporters: string[] = [];
  const expectOne = (window: MetricsWindow | undefined, labels: Record<string, string>): void => {
    if (!window) {
      problems.push(`no ${labels.reporter ?? ''} metrics`);
      return;
    }
    reporters.push(`${window.node} (${labels.reporter ?? ''})`);
    const delta = (name: string): number =>
      sumOf(window.after, name, labels) - sumOf(window.before, name, labels);
    const counted = {
      opened: delta('istio_tcp_connections_opened_total'),
      closed: delta('istio_tcp_connections_closed_total'),
      received: delta('istio_tcp_received_bytes_total'),
      sent: delta('istio_tcp_sent_bytes_total'),
    };
    // Istio's convention on both reporters: received = client→server, sent = server→client.
    if (
      counted.opened !== 1 ||
      counted.closed !== 1 ||
      counted.received !== probe.requestBytes ||
      counted.sent !== probe.replyBytes
    ) {
      problems.push(
        `${window.node} ${labels.reporter ?? ''} counted opened +${String(counted.opened)}, closed +${String(counted.closed)}, ` +
          `received +${String(counted.received)}, sent +${String(counted.sent)}`,
      );
    }
  };
  expectOne(probe.sourceMetrics, { reporter: 'source', ...common });
  if (mtls) {
    expectOne(probe.destinationMetrics, {
      reporter: 'destination',
      ...common,
      source_principal: step.source.identity,
      destination_principal: answerer.workload?.identity ?? '',
    });
  }
  const ok = problems.length === 0;
  return ok
    ? {
        ok,
        text: `metrics: ${reporters.join(' and ')} counted 1 connection, ${policy}, ${String(probe.requestBytes)}/${String(probe.replyBytes)} bytes`,
      }
    : {
        ok,
        text: `metrics (${policy}): expected 1 connection, ${String(probe.requestBytes)}/${String(probe.replyBytes)} bytes; ${problems.join('; ')}`,
      };
}

/**
 * A connection the policies in force deny: the caller's ztunnel refuses it (SOCKS5 failure) after the
 * destination's ztunnel answered its CONNECT with 401; the destination's access log gives the reason
 * and its metrics carry response_flags="DENY". mTLS happened first: both sides logged the identities.
 */
function checkDenied(
  step: ResolvedStep,
  probe: Probe,
  destination: Destination,
  expected: Extract<ExpectedAuthorization, { allowed: false }>,
): Check[] {
  const checks: Check[] = [
    { kind: 'refused', ...checkRefused(step, probe, destination, expected) },
    { kind: 'outbound', ...checkDeniedOutbound(step, probe, destination) },
    { kind: 'inbound', ...checkDeniedInbound(step, probe, destination, expected) },
  ];
  if (probe.outbound && probe.inbound)
    checks.push({ kind: 'identities', ...checkIdentities(step, probe, destination) });
  checks.push({ kind: 'metrics', ...checkDeniedMetrics(step, probe, destination) });
  return checks;
}

function checkRefused(
  step: ResolvedStep,
  probe: Probe,
  destination: Destination,
  expected: Extract<ExpectedAuthorization, { allowed: false }>,
): Verdict {
  const caller = `${step.source.name} → ${destination.name}`;
  const socks = `${step.sourceNode.name}'s SOCKS5`;
  if (probe.answerer) {
    return {
      ok: false,
      text: `refused: expected ${destination.node?.name ?? '?'} to deny ${caller} (${expected.message}); ${probe.answerer.name} answered`,
    };
  }
  const ok = probe.socksReply !== undefined && probe.reply === undefined;
  return ok
    ? {
        ok,
        text: `refused: ${socks} answered "${socksReplyName(probe.socksReply)}" (reply ${String(probe.socksReply)}); the app of ${destination.name} was never reached`,
      }
    : {
        ok,
        text: `refused: expected ${socks} to refuse ${caller}; got ${probe.error ?? 'a connection'}`,
      };
}

function checkDeniedOutbound(step: ResolvedStep, probe: Probe, destination: Destination): Verdict {
  const line = probe.outbound;
  const where = `${step.sourceNode.name} outbound`;
  if (!line) return { ok: false, text: `${where}: no access log line for this connection` };
  const app = formatSocketAddress(destination.ip, destination.port);
  const error = typeof line.error === 'string' ? line.error : '';
  const ok = line['dst.hbone_addr'] === app && DENIED_STATUS.test(error);
  return ok
    ? { ok, text: `${where}: HBONE CONNECT ${app} (${destination.name}) answered 401` }
    : {
        ok,
        text: `${where}: expected CONNECT ${app} to be answered 401; logged ${describeDestination(line)} error ${show(line.error)}`,
      };
}

function checkDeniedInbound(
  step: ResolvedStep,
  probe: Probe,
  destination: Destination,
  expected: Extract<ExpectedAuthorization, { allowed: false }>,
): Verdict {
  const line = probe.inbound;
  const where = `${destination.node?.name ?? '?'} inbound`;
  // ztunnel's reason names the policy when a DENY matched; for ALLOW policies that did not, say which apply.
  const policies = expected.policies.some((key) => expected.message.endsWith(key))
    ? ''
    : ` (${expected.policies.length === 1 ? 'policy' : 'policies'} ${expected.policies.join(', ')})`;
  if (!line) return { ok: false, text: `${where}: no access log line for this connection` };
  const ok =
    line.error === expected.message &&
    line['src.workload'] === step.source.name &&
    line['dst.workload'] === destination.name;
  return ok
    ? {
        ok,
        text: `${where}: denied ${step.source.name} → ${destination.name}, access log error "${expected.message}"${policies}`,
      }
    : {
        ok,
        text: `${where}: expected ${step.source.name} → ${destination.name} denied with "${expected.message}"${policies}; logged ${String(line['src.workload'])} → ${String(line['dst.workload'])} error ${show(line.error)}`,
      };
}

function checkDeniedMetrics(step: ResolvedStep, probe: Probe, destination: Destination): Verdict {
  const common = {
    source_workload: step.source.workloadName || step.source.name,
    destination_workload: destination.workload
      ? destination.workload.workloadName || destination.name
      : 'unknown',
    connection_security_policy: 'mutual_tls',
  };
  const problems: string[] = [];
  const delta = (window: MetricsWindow, name: string, labels: Record<string, string>): number =>
    sumOf(window.after, name, labels) - sumOf(window.before, name, labels);
  const counted = (
    window: MetricsWindow | undefined,
    reporter: string,
    flags: Record<string, string>,
  ): void => {
    if (!window) {
      problems.push(`no ${reporter} metrics`);
      return;
    }
    const labels = { reporter, ...common };
    const opened = delta(window, 'istio_tcp_connections_opened_total', labels);
    const closed = delta(window, 'istio_tcp_connections_closed_total', { ...labels, ...flags });
    const failed = delta(window, 'istio_tcp_connections_failed_total', { ...labels, ...flags });
    if (opened !== 1 || closed !== 1 || failed !== 1) {
      const which =
        flags.response_flags === undefined ? '' : ` with response_flags="${flags.response_flags}"`;
      problems.push(
        `${window.node} ${reporter} counted opened +${String(opened)}, closed +${String(closed)} and failed +${String(failed)}${which}`,
      );
    }
  };
  counted(probe.destinationMetrics, 'destination', { response_flags: DENY_FLAG });
  counted(probe.sourceMetrics, 'source', {});
  const node = destination.node?.name ?? '?';
  return problems.length === 0
    ? {
        ok: true,
        text: `metrics: ${node} (destination) counted it closed and failed with response_flags="${DENY_FLAG}", ${step.sourceNode.name} (source) counted it failed`,
      }
    : {
        ok: false,
        text: `metrics: expected 1 connection opened, then closed and failed (response_flags="${DENY_FLAG}" at the destination); ${problems.join('; ')}`,
      };
}

/** RFC 1928's names for the replies a ztunnel sends. */
function socksReplyName(reply: number | undefined): string {
  switch (reply) {
    case 1:
      return 'general failure';
    case 2:
      return 'not allowed';
    case 4:
      return 'host unreachable';
    case 5:
      return 'connection refused';
    default:
      return 'failure';
  }
}

function checkLoadBalancing(step: ResolvedStep, probes: readonly Probe[]): Verdict {
  // Reached, not answered: an endpoint the policies deny is still picked, and then refuses.
  const tally = reachedTally(probes);
  const missing = step.destinations.filter((d) => !tally.has(d.name)).map((d) => d.name);
  const spread = formatTally(tally);
  return missing.length === 0
    ? { ok: true, text: `load balancing: ${String(probes.length)} connections to the VIP reached ${spread}` }
    : {
        ok: false,
        text: `load balancing: ${missing.join(', ')} never answered in ${String(probes.length)} connections (${spread})`,
      };
}

/** Answers per destination name, sorted by name. */
export function answerTally(probes: readonly Probe[]): Map<string, number> {
  return tally(probes.map((probe) => probe.answerer?.name));
}

/** Connections per destination they went to (answered or refused), sorted by name. */
function reachedTally(probes: readonly Probe[]): Map<string, number> {
  return tally(probes.map((probe) => probe.destination?.name));
}

function tally(names: readonly (string | undefined)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of names) if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
  return new Map([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

export function formatTally(tally: ReadonlyMap<string, number>): string {
  if (tally.size === 0) return 'nobody';
  return [...tally].map(([name, count]) => (count === 1 ? name : `${name} ×${String(count)}`)).join(', ');
}

/** `spiffe://cluster.local/ns/default/sa/sleep` → `default/sa/sleep`: the trust domain is the same everywhere here. */
export function shortIdentity(identity: unknown): string {
  if (typeof identity !== 'string') return 'none';
  const match = /^spiffe:\/\/[^/]+\/ns\/(.+)$/.exec(identity);
  return match?.[1] ?? identity;
}

/** A log field for a message: strings as they are, anything else as JSON. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function describeIdentities(line: LogLine | undefined): string {
  if (!line) return 'no line';
  return `${shortIdentity(line['src.identity'])} → ${shortIdentity(line['dst.identity'])}`;
}

export function describeDestination(line: LogLine): string {
  return `dst.addr=${show(line['dst.addr'])} dst.hbone_addr=${show(line['dst.hbone_addr'])} dst.workload=${show(line['dst.workload'])}`;
}
