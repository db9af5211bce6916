import { formatSocketAddress } from '@ambient/core';
import { sumOf } from '@ambient/testing';
import {
  describeDestination,
  describeIdentities,
  mergeRepeats,
  shortIdentity,
  show,
  type Check,
  type CheckLine,
} from '../local-mesh/checks.js';
import type { LogLine } from '../local-mesh/log-feed.js';
import { APP_PORT, identityOf } from './demo-plan.js';
import type { MetricsWindow, Probe } from './probe.js';
import type { Destination, TourStep } from './tour.js';

const HBONE_PORT = 15008;
const OPENED = 'istio_tcp_connections_opened_total';
const CLOSED = 'istio_tcp_connections_closed_total';

type Verdict = Omit<Check, 'kind'>;

/** Every check of a step: per connection, plus load balancing over a VIP's connections. */
export function checkStep(step: TourStep, probes: readonly Probe[]): CheckLine[] {
  const checks = probes.flatMap((probe) => checkProbe(step, probe));
  if (step.isService) checks.push({ kind: 'load-balancing', ...checkLoadBalancing(step, probes) });
  return mergeRepeats(checks);
}

export function checkProbe(step: TourStep, probe: Probe): Check[] {
  if (step.expectation === 'denied') {
    return [
      { kind: 'refused', ...checkRefused(step, probe) },
      { kind: 'outbound', ...checkDeniedOutbound(step, probe) },
      { kind: 'inbound', ...checkDeniedInbound(step, probe) },
      { kind: 'metrics', ...checkDeniedMetrics(step, probe) },
    ];
  }
  const checks: Check[] = [{ kind: 'reply', ...checkReply(step, probe) }];
  const answerer = probe.answerer;
  if (answerer === undefined) return checks;
  checks.push({ kind: 'original-source', ...checkOriginalSource(step, probe, answerer) });
  switch (step.expectation) {
    case 'mesh':
      checks.push(
        { kind: 'outbound', ...checkHboneOutbound(step, probe, answerer) },
        { kind: 'inbound', ...checkHboneInbound(step, probe, answerer) },
        { kind: 'identities', ...checkIdentities(step, probe, answerer) },
        { kind: 'metrics', ...checkMeshMetrics(step, probe, answerer) },
      );
      break;
    case 'uncaptured-server':
    case 'passthrough':
      checks.push(
        { kind: 'outbound', ...checkPlainOutbound(step, probe, answerer) },
        { kind: 'metrics', ...checkSourceOnlyMetrics(step, probe, answerer) },
      );
      break;
    case 'uncaptured-client':
      checks.push(
        { kind: 'inbound', ...checkPlaintextInbound(step, probe, answerer) },
        { kind: 'metrics', ...checkDestinationOnlyMetrics(step, probe, answerer) },
      );
      break;
  }
  return checks;
}

function checkReply(step: TourStep, probe: Probe): Verdict {
  const who = step.isService
    ? `an endpoint of ${step.targetName}`
    : step.destinations.map((d) => d.name).join(' or ');
  const echoed = step.program === 'nc' ? probe.reply?.echo === `ping from ${step.from.name}\n` : true;
  const ok = probe.exitCode === 0 && probe.answerer !== undefined && echoed;
  if (ok) {
    const what = step.program === 'nc' ? 'greeted and echoed the line nc sent' : 'answered the HTTP request';
    return { ok, text: `reply: ${probe.answerer.name} ${what}` };
  }
  return { ok, text: `reply: expected ${who} to answer ${step.program}; got ${describeRun(probe)}` };
}

function checkOriginalSource(step: TourStep, probe: Probe, answerer: Destination): Verdict {
  const seen = probe.reply?.peerIp;
  const ok = seen === step.from.ip;
  return ok
    ? { ok, text: `original source: ${answerer.name} saw the caller's own pod IP ${step.from.ip}` }
    : { ok, text: `original source: ${answerer.name} saw ${String(seen)}, expected ${step.from.ip}` };
}

function checkHboneOutbound(step: TourStep, probe: Probe, answerer: Destination): Verdict {
  const where = `${step.from.node} outbound`;
  const line = probe.outbound;
  if (!line)
    return { ok: false, text: `${where}: no access log line for this connection (was it captured?)` };
  if (line.error !== undefined) return { ok: false, text: `${where}: error ${show(line.error)}` };
  const app = formatSocketAddress(answerer.ip, APP_PORT);
  const hbone = formatSocketAddress(answerer.ip, HBONE_PORT);
  const ok =
    line['dst.addr'] === hbone && line['dst.hbone_addr'] === app && line['dst.workload'] === answerer.name;
  return ok
    ? { ok, text: `${where}: captured (15001), HBONE to ${hbone}, CONNECT ${app} (${answerer.name})` }
    : { ok, text: `${where}: expected HBONE to ${hbone} for ${app}; logged ${describeDestination(line)}` };
}

function checkHboneInbound(step: TourStep, probe: Probe, answerer: Destination): Verdict {
  const where = `${answerer.pod?.node ?? '?'} inbound`;
  const line = probe.inbound;
  if (!line) return { ok: false, text: `${where}: no access log line for this connection` };
  if (line.error !== undefined) return { ok: false, text: `${where}: error ${show(line.error)}` };
  const ok = line['src.workload'] === step.from.name && line['dst.workload'] === answerer.name;
  return ok
    ? {
        ok,
        text: `${where}: HBONE (15008 in ${answerer.name}'s namespace) from ${step.from.name} delivered to ${answerer.name}`,
      }
    : {
        ok,
        text: `${where}: expected ${step.from.name} → ${answerer.name}; logged ${show(line['src.workload'])} → ${show(line['dst.workload'])}`,
      };
}

function checkIdentities(step: TourStep, probe: Probe, answerer: Destination): Verdict {
  const source = identityOf(step.from);
  const destination = answerer.pod ? identityOf(answerer.pod) : undefined;
  const matches = (line: LogLine | undefined): boolean =>
    line?.['src.identity'] === source && line['dst.identity'] === destination;
  const ok = matches(probe.outbound) && matches(probe.inbound);
  const expected = `${shortIdentity(source)} → ${shortIdentity(destination)}`;
  return ok
    ? { ok, text: `identities: ${expected} in both access logs (mTLS)` }
    : {
        ok,
        text: `identities: expected ${expected}; outbound logged ${describeIdentities(probe.outbound)}, inbound ${describeIdentities(probe.inbound)}`,
      };
}

function checkPlainOutbound(step: TourStep, probe: Probe, answerer: Destination): Verdict {
  const where = `${step.from.node} outbound`;
  const line = probe.outbound;
  if (!line)
    return { ok: false, text: `${where}: no access log line for this connection (was it captured?)` };
  if (line.error !== undefined) return { ok: false, text: `${where}: error ${show(line.error)}` };
  const app = formatSocketAddress(answerer.ip, APP_PORT);
  const workload = answerer.pod?.name;
  const noIdentities = line['src.identity'] === undefined && line['dst.identity'] === undefined;
  const ok =
    line['dst.addr'] === app &&
    line['dst.hbone_addr'] === undefined &&
    line['dst.workload'] === workload &&
    noIdentities;
  const how =
    workload === undefined
      ? `passthrough to ${app} (no workload has that address)`
      : `plain TCP to ${app} (${workload} is not in the mesh)`;
  return ok
    ? { ok, text: `${where}: captured (15001), ${how}, no mTLS` }
    : {
        ok,
        text: `${where}: expected ${how}; logged ${describeDestination(line)}, identities ${describeIdentities(line)}`,
      };
}

function checkPlaintextInbound(step: TourStep, probe: Probe, answerer: Destination): Verdict {
  const where = `${answerer.pod?.node ?? '?'} inbound`;
  const line = probe.inbound;
  if (!line)
    return {
      ok: false,
      text: `${where}: no access log line (was the connection captured in ${answerer.name}?)`,
    };
  if (line.error !== undefined) return { ok: false, text: `${where}: error ${show(line.error)}` };
  const app = formatSocketAddress(answerer.ip, APP_PORT);
  const ok =
    line['dst.addr'] === app &&
    line['dst.hbone_addr'] === undefined &&
    line['dst.workload'] === answerer.name &&
    line['src.identity'] === undefined;
  return ok
    ? {
        ok,
        text: `${where}: captured in ${answerer.name}'s namespace (15006), plaintext from ${step.from.name}, no mTLS`,
      }
    : {
        ok,
        text: `${where}: expected plaintext to ${app}; logged ${describeDestination(line)}, identities ${describeIdentities(line)}`,
      };
}

function checkRefused(step: TourStep, probe: Probe): Verdict {
  const ok = probe.exitCode !== 0 && probe.reply === undefined;
  return ok
    ? {
        ok,
        text: `refused: ${step.program} got no answer (${probe.complaint || `exit ${String(probe.exitCode)}`})`,
      }
    : {
        ok,
        text: `refused: expected ${step.targetName} to be unreachable for ${step.from.name}; got ${describeRun(probe)}`,
      };
}

function checkDeniedOutbound(step: TourStep, probe: Probe): Verdict {
  const where = `${step.from.node} outbound`;
  const line = probe.outbound;
  if (!line)
    return { ok: false, text: `${where}: no access log line for this connection (was it captured?)` };
  const ok = line.error !== undefined;
  return ok
    ? { ok, text: `${where}: the HBONE CONNECT to ${step.targetName} was refused: ${show(line.error)}` }
    : { ok, text: `${where}: expected an error; logged none (${describeDestination(line)})` };
}

function checkDeniedInbound(step: TourStep, probe: Probe): Verdict {
  const target = step.destinations[0]?.pod;
  const where = `${target?.node ?? '?'} inbound`;
  const line = probe.inbound;
  if (!line) return { ok: false, text: `${where}: no access log line for the denied connection` };
  const error = typeof line.error === 'string' ? line.error : '';
  const ok = /denied|allow policies exist/.test(error);
  return ok
    ? { ok, text: `${where}: ${step.from.name} → ${step.targetName} denied by policy: ${error}` }
    : { ok, text: `${where}: expected a policy denial; logged error ${show(line.error)}` };
}

function checkDeniedMetrics(step: TourStep, probe: Probe): Verdict {
  const target = step.destinations[0]?.pod;
  const node = target?.node ?? '?';
  // As ztunnel does: the connection opens before the policy decides, and closes with the verdict.
  const labels = {
    reporter: 'destination',
    response_flags: 'DENY',
    source_workload: step.from.name,
    destination_workload: target?.name ?? '',
  };
  const closed = delta(probe.metrics.get(node), CLOSED, labels);
  const ok = closed === 1;
  return ok
    ? { ok, text: `metrics: ${node} (destination) counted 1 connection closed with response_flags="DENY"` }
    : {
        ok,
        text: `metrics: expected ${node} to count 1 connection closed with response_flags="DENY"; counted ${String(closed)}`,
      };
}

function checkMeshMetrics(step: TourStep, probe: Probe, answerer: Destination): Verdict {
  const common = {
    source_workload: step.from.name,
    destination_workload: answerer.name,
    connection_security_policy: 'mutual_tls',
  };
  const source = counted(probe, step.from.node, { reporter: 'source', ...common });
  const destinationNode = answerer.pod?.node ?? '?';
  const destination = counted(probe, destinationNode, {
    reporter: 'destination',
    ...common,
    source_principal: identityOf(step.from),
    destination_principal: answerer.pod ? identityOf(answerer.pod) : '',
  });
  const ok = source.ok && destination.ok;
  return ok
    ? {
        ok,
        text: `metrics: ${step.from.node} (source) and ${destinationNode} (destination) counted 1 connection, mutual_tls`,
      }
    : {
        ok,
        text: `metrics (mutual_tls): expected 1 connection on each side; ${source.text}; ${destination.text}`,
      };
}

function checkSourceOnlyMetrics(step: TourStep, probe: Probe, answerer: Destination): Verdict {
  const labels = {
    reporter: 'source',
    source_workload: step.from.name,
    destination_workload: answerer.pod?.name ?? 'unknown',
    connection_security_policy: 'unknown',
  };
  const source = counted(probe, step.from.node, labels);
  return source.ok
    ? { ok: true, text: `metrics: ${step.from.node} (source) counted 1 connection, no mTLS` }
    : { ok: false, text: `metrics (no mTLS): expected 1 connection; ${source.text}` };
}

function checkDestinationOnlyMetrics(step: TourStep, probe: Probe, answerer: Destination): Verdict {
  const node = answerer.pod?.node ?? '?';
  const labels = {
    reporter: 'destination',
    source_workload: step.from.name,
    destination_workload: answerer.name,
    connection_security_policy: 'unknown',
  };
  const destination = counted(probe, node, labels);
  return destination.ok
    ? { ok: true, text: `metrics: ${node} (destination) counted 1 connection, no mTLS` }
    : { ok: false, text: `metrics (no mTLS): expected 1 connection; ${destination.text}` };
}

function checkLoadBalancing(step: TourStep, probes: readonly Probe[]): Verdict {
  const tally = answerTally(probes);
  const missing = step.destinations.filter((d) => !tally.has(d.name)).map((d) => d.name);
  const spread = formatTally(tally);
  return missing.length === 0
    ? { ok: true, text: `load balancing: ${String(probes.length)} connections to the VIP reached ${spread}` }
    : {
        ok: false,
        text: `load balancing: ${missing.join(', ')} never answered in ${String(probes.length)} connections (${spread})`,
      };
}

/** One connection opened and closed on `node` with these labels. */
function counted(probe: Probe, node: string, labels: Record<string, string>): { ok: boolean; text: string } {
  const window = probe.metrics.get(node);
  const opened = delta(window, OPENED, labels);
  const closed = delta(window, CLOSED, labels);
  const ok = opened === 1 && closed === 1;
  return {
    ok,
    text: `${node} ${labels.reporter ?? ''} opened +${String(opened)}, closed +${String(closed)}`,
  };
}

function delta(window: MetricsWindow | undefined, name: string, labels: Record<string, string>): number {
  if (!window) return 0;
  return sumOf(window.after, name, labels) - sumOf(window.before, name, labels);
}

/** Answers per destination name, sorted by name. */
export function answerTally(probes: readonly Probe[]): Map<string, number> {
  const tally = new Map<string, number>();
  for (const probe of probes) {
    if (probe.answerer) tally.set(probe.answerer.name, (tally.get(probe.answerer.name) ?? 0) + 1);
  }
  return new Map([...tally].sort(([a], [b]) => a.localeCompare(b)));
}

export function formatTally(tally: ReadonlyMap<string, number>): string {
  if (tally.size === 0) return 'nobody';
  return [...tally].map(([name, count]) => (count === 1 ? name : `${name} ×${String(count)}`)).join(', ');
}

function describeRun(probe: Probe): string {
  const output = probe.output.trim();
  const parts = [`exit ${String(probe.exitCode)}`];
  if (output !== '') parts.push(JSON.stringify(output.length > 120 ? `${output.slice(0, 120)}…` : output));
  if (probe.complaint !== '') parts.push(probe.complaint);
  return parts.join(', ');
}
