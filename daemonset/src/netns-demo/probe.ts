import { errorMessage, parseSocketAddress } from '@ambient/core';
import type { NetnsCluster } from '@ambient/testing';
import { parseReply, type ParsedReply } from '../local-mesh/apps.js';
import type { LogLine } from '../local-mesh/log-feed.js';
import type { DemoPlan } from './demo-plan.js';
import type { NetnsChild } from './netns-child.js';
import type { Destination, TourStep } from './tour.js';

/** What a program may take for one exchange; generous, a broken path fails well within it. */
const PROGRAM_TIMEOUT_S = 5;
/** The launcher's bound on a program that ignores its own. */
const EXEC_TIMEOUT_MS = 15_000;
/** The access line is written when the ztunnel sees the close, a moment after the program does. */
const ACCESS_LOG_WAIT_MS = 5_000;
const ACCESS_LOG_COMPLETE = 'connection complete';
/** nc gets a fixed source port per step, so its connection can be found in the access log. */
const NC_FIRST_SOURCE_PORT = 40_000;
/** curl prints this after the body: the address it connected from, to find the access line. */
const CURL_WRITE_OUT = '\n@local %{local_ip}:%{local_port}\n';
const LOCAL_ADDRESS_LINE = /\n@local (\S+)\n$/;

/** Metrics text of one node's ztunnel before and after a probe. */
export interface MetricsWindow {
  readonly before: string;
  readonly after: string;
}

/** Everything observed about one run of a step's program: its own output and both ztunnels' view. */
export interface Probe {
  /** The command as a user would type it in the pod. */
  readonly command: string;
  /** The program's exit code (null: killed). */
  readonly exitCode: number | null;
  /** What it printed, without curl's write-out. */
  readonly output: string;
  /** Its complaint on stderr, trimmed (curl: `(52) Empty reply from server`). */
  readonly complaint: string;
  /** `ip:port` the program connected from, when known. */
  readonly localAddress: string | undefined;
  readonly reply: ParsedReply | undefined;
  /** The destination whose greeting came back, if any. */
  readonly answerer: Destination | undefined;
  /** The caller's ztunnel's access line for this connection (captured callers only). */
  readonly outbound: LogLine | undefined;
  /** The access line of the ztunnel in front of the destination (captured destinations only). */
  readonly inbound: LogLine | undefined;
  /** By node name. */
  readonly metrics: ReadonlyMap<string, MetricsWindow>;
}

export interface ProbeContext {
  readonly cluster: NetnsCluster;
  readonly plan: DemoPlan;
  /** By node name. */
  readonly ztunnels: ReadonlyMap<string, NetnsChild>;
  fetchMetrics(node: string): Promise<string>;
}

/** Runs the step's program once inside the caller's pod and gathers what the ztunnels say about it. */
export async function runProbe(step: TourStep, context: ProbeContext, attempt: number): Promise<Probe> {
  const nodes = context.plan.nodes.map((node) => node.name);
  const positions = new Map(nodes.map((node) => [node, context.ztunnels.get(node)?.logs.position ?? 0]));
  const before = new Map(
    await Promise.all(nodes.map(async (node) => [node, await metricsOrEmpty(context, node)] as const)),
  );

  const run = await runProgram(step, context.cluster, attempt);
  const reply = parseReply(run.output);
  const answerer = step.destinations.find((d) => d.name === reply?.name && d.ip === reply.ip);

  const sourceZtunnel = step.from.captured ? context.ztunnels.get(step.from.node) : undefined;
  const outbound =
    sourceZtunnel && run.localAddress !== undefined
      ? await sourceZtunnel.logs.waitFor(
          positions.get(step.from.node) ?? 0,
          (line) =>
            line.message === ACCESS_LOG_COMPLETE &&
            line.direction === 'outbound' &&
            line['src.addr'] === run.localAddress,
          ACCESS_LOG_WAIT_MS,
        )
      : undefined;
  // The destination's ztunnel: the answerer's, or for a refused connection the one of the pod meant.
  const servedBy = answerer?.pod ?? (step.destinations.length === 1 ? step.destinations[0]?.pod : undefined);
  const destinationZtunnel = servedBy?.captured ? context.ztunnels.get(servedBy.node) : undefined;
  const inbound =
    servedBy && destinationZtunnel
      ? await destinationZtunnel.logs.waitFor(
          positions.get(servedBy.node) ?? 0,
          (line) =>
            line.message === ACCESS_LOG_COMPLETE &&
            line.direction === 'inbound' &&
            ipOf(line['src.addr']) === step.from.ip &&
            (ipOf(line['dst.hbone_addr']) ?? ipOf(line['dst.addr'])) === servedBy.ip,
          ACCESS_LOG_WAIT_MS,
        )
      : undefined;

  // The access lines are written in the same step as the counters, so the counters are final now.
  const metrics = new Map<string, MetricsWindow>();
  for (const node of nodes) {
    metrics.set(node, { before: before.get(node) ?? '', after: await metricsOrEmpty(context, node) });
  }
  return { ...run, reply, answerer, outbound, inbound, metrics };
}

interface ProgramRun {
  readonly command: string;
  readonly exitCode: number | null;
  readonly output: string;
  readonly complaint: string;
  readonly localAddress: string | undefined;
}

async function runProgram(step: TourStep, cluster: NetnsCluster, attempt: number): Promise<ProgramRun> {
  const host = step.target.ip;
  const port = String(step.target.port);
  let args: string[];
  let command: string;
  let input: string | undefined;
  let localAddress: string | undefined;
  if (step.program === 'curl') {
    const url = `http://${host}:${port}/`;
    command = `curl -s ${url}`;
    args = ['-sS', '--max-time', String(PROGRAM_TIMEOUT_S), '-w', CURL_WRITE_OUT, url];
  } else {
    const sourcePort = NC_FIRST_SOURCE_PORT + step.number * 100 + attempt;
    input = `ping from ${step.from.name}\n`;
    command = `printf '${input.trimEnd()}\\n' | nc -N ${host} ${port}`;
    args = ['-N', '-w', String(PROGRAM_TIMEOUT_S), '-p', String(sourcePort), host, port];
    localAddress = `${step.from.ip}:${String(sourcePort)}`;
  }
  try {
    const result = await cluster.exec(step.from.netnsName, step.program, args, {
      timeoutMs: EXEC_TIMEOUT_MS,
      ...(input === undefined ? {} : { input }),
    });
    let output = result.stdout;
    const written = LOCAL_ADDRESS_LINE.exec(output);
    if (written) {
      output = output.slice(0, written.index);
      // curl reports port 0 when it never connected.
      const address = written[1];
      if (address !== undefined && !address.endsWith(':0')) localAddress = address;
    }
    return { command, exitCode: result.code, output, complaint: result.stderr.trim(), localAddress };
  } catch (err) {
    return { command, exitCode: null, output: '', complaint: errorMessage(err), localAddress };
  }
}

async function metricsOrEmpty(context: ProbeContext, node: string): Promise<string> {
  try {
    return await context.fetchMetrics(node);
  } catch {
    // The checks report the missing counters.
    return '';
  }
}

function ipOf(address: unknown): string | undefined {
  return typeof address === 'string' ? parseSocketAddress(address)?.ip : undefined;
}
