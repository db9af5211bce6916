import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { errorMessage } from '@ambient/core';
import type { CheckLine } from './checks.js';
import { LocalMesh, type StopResult } from './local-mesh.js';
import { planMesh, type MeshPlan } from './mesh-plan.js';
import { fetchMetrics } from './probe.js';
import {
  alignColumns,
  dim,
  formatCheck,
  formatEndpoints,
  formatMeshOverview,
  formatMetricExcerpt,
  heading,
  mark,
  print,
  STEP_HEADER,
  stepRow,
} from './report.js';
import { resolveTour, type StepResolution } from './tour.js';
import { allChecks, connectionCount, runRound, type StepOutcome } from './tour-runner.js';
import { describeExit } from './ztunnel-process.js';

/** The committed example, from daemonset/dist/local-mesh/ up to the repository root. */
const DEFAULT_MESH_FILE = fileURLToPath(new URL('../../../examples/local-mesh.yaml', import.meta.url));
/** The whole demo, shutdown included: past this something hangs, and hanging is failing. */
const DEMO_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 20_000;
/** A ztunnel drains within its own 5 s termination deadline; this bounds one that does not. */
const STOP_TIMEOUT_MS = 10_000;
/** `npm start` sends a round of the tour's traffic this often, so the metrics keep moving. */
const ROUND_INTERVAL_MS = 5_000;
const USAGE = `usage: local-mesh [--demo] [--config <mesh.yaml>]

Runs a two-node ambient mesh on loopback: two ztunnel processes, demo apps on every pod IP,
and a tour of real connections through them.
  (no flag)  run the tour, then keep sending its traffic every ${String(ROUND_INTERVAL_MS / 1000)} s until Ctrl-C
  --demo     run the tour unattended, check every step, exit 0 only if every check passed
  --config   the mesh file (default examples/local-mesh.yaml)
`;

type Mode = 'start' | 'demo';

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        demo: { type: 'boolean', default: false },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`local-mesh: ${errorMessage(err)}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    print(USAGE);
    return 0;
  }
  const mode: Mode = args.demo ? 'demo' : 'start';
  let plan: MeshPlan;
  try {
    plan = await planMesh(resolve(args.config ?? DEFAULT_MESH_FILE));
  } catch (err) {
    process.stderr.write(`local-mesh: ${errorMessage(err)}\n`);
    return 2;
  }

  const mesh = new LocalMesh(plan);
  // Whatever happens to the launcher, its ztunnels go with it.
  process.once('exit', () => {
    mesh.killNow();
  });
  const demoDeadline = setTimeout(() => {
    print(
      `\n${mark(false)} the ${mode === 'demo' ? 'demo' : 'startup'} did not finish within ${String(DEMO_TIMEOUT_MS / 1000)} s`,
    );
    printLogLocation(mesh);
    mesh.killNow();
    process.exit(1);
  }, DEMO_TIMEOUT_MS);

  const stop = stopSignal(mesh);
  print(heading(`Local ambient mesh on loopback${mode === 'demo' ? ': demo' : ''}`));
  try {
    await Promise.race([
      mesh.start(READY_TIMEOUT_MS),
      stop.requested.then(() => Promise.reject(new Error('interrupted'))),
    ]);
  } catch (err) {
    print(`${mark(false)} the mesh did not start: ${errorMessage(err)}`);
    await mesh.stop(STOP_TIMEOUT_MS);
    await keepLogsOrClean(mesh);
    return 1;
  }
  print(formatMeshOverview(plan, mesh.logPaths).join('\n'));

  const steps = resolveTour(plan);
  const outcomes = await runRound(steps, mesh.ztunnels, 1);
  printTour(outcomes, mode);
  await printEndpoints(mesh);

  if (mode === 'start') {
    clearTimeout(demoDeadline);
    return keepRunning(mesh, steps, stop);
  }
  const failed = allChecks(outcomes).filter((check) => !check.ok);
  const stopped = await mesh.stop(STOP_TIMEOUT_MS);
  clearTimeout(demoDeadline);
  const shutdownChecks = stopped.map(checkCleanExit);
  print(`\n${heading('Shutdown')}`);
  for (const check of shutdownChecks) print(formatCheck(check, '  '));
  failed.push(...shutdownChecks.filter((check) => !check.ok));
  if (stop.wasRequested())
    failed.push({ kind: 'signal', ok: false, text: 'interrupted by a signal', count: 1 });

  const total = allChecks(outcomes).length + shutdownChecks.length;
  if (failed.length === 0) {
    await mesh.removeDir();
    print(`\n${mark(true)} ${heading(`all ${String(total)} checks passed`)}`);
    return 0;
  }
  print(`\n${mark(false)} ${heading(`${String(failed.length)} of ${String(total)} checks failed:`)}`);
  for (const check of failed) print(formatCheck(check, '  '));
  await keepLogsOrClean(mesh);
  return 1;
}

/** The tour as a table, each step's checks under it (the demo shows all, `npm start` only failures). */
function printTour(outcomes: readonly StepOutcome[], mode: Mode): void {
  print(
    `\n${heading('Tour')}  ${dim("each step is one connection: SOCKS5 to the caller's ztunnel from the caller's pod IP")}`,
  );
  const rows = [
    STEP_HEADER,
    ...outcomes.map((o) =>
      o.kind === 'ran' ? stepRow(o.step, o.probes) : [String(o.number), `skipped: ${o.reason}`],
    ),
  ];
  const [header = '', ...lines] = alignColumns(rows);
  print(`  ${dim(header)}`);
  outcomes.forEach((outcome, index) => {
    print(`  ${lines[index] ?? ''}`);
    for (const check of outcome.checks) {
      if (mode === 'demo' || !check.ok) print(formatCheck(check, '     '));
    }
  });
}

async function printEndpoints(mesh: LocalMesh): Promise<void> {
  print(`\n${heading('Endpoints')}  ${dim('metrics, admin, readiness, SOCKS5 of each ztunnel')}`);
  print(formatEndpoints(mesh.plan).join('\n'));
  // The last node is the one the tour's traffic lands on in the example mesh.
  const node = [...mesh.ztunnels.values()].at(-1);
  if (!node) return;
  try {
    const excerpt = formatMetricExcerpt(await fetchMetrics(node));
    print(
      `\n${heading(`istio_tcp_connections_opened_total on ${node.node}`)}  ${dim('(a few of the labels)')}`,
    );
    print(excerpt.join('\n'));
  } catch (err) {
    print(`${mark(false)} metrics of ${node.node}: ${errorMessage(err)}`);
  }
}

/** `npm start`: a round of traffic every few seconds, one summary line each, until a signal. */
async function keepRunning(
  mesh: LocalMesh,
  steps: readonly StepResolution[],
  stop: StopSignal,
): Promise<number> {
  const first = mesh.plan.nodes[0];
  const sleep = mesh.plan.snapshot.workloads.find((w) => w.node === first?.name);
  const echo = mesh.plan.snapshot.services[0];
  if (first && sleep && echo) {
    const source = sleep.workloadIps[0] ?? '';
    print(
      `\n${heading('Try it')} ${dim(`(as ${sleep.name}: connect from its pod IP to ${first.name}'s SOCKS5 port)`)}`,
    );
    print(
      `  curl --interface ${source} --socks5-hostname ${first.instanceIp}:15080 http://${echo.hostname}:${String(echo.ports[0]?.servicePort ?? 80)}/`,
    );
  }
  print(`\nSending the tour's traffic every ${String(ROUND_INTERVAL_MS / 1000)} s; Ctrl-C to stop.`);
  const died = mesh
    .firstExit()
    .then(({ node, exit }) => `ztunnel ${node} exited unexpectedly (${describeExit(exit)})`);
  const stopRequested = stop.requested.then(() => 'stop' as const);
  let death: string | undefined;
  for (let round = 2; ; round++) {
    const event = await Promise.race([
      stopRequested,
      died,
      delay(ROUND_INTERVAL_MS).then(() => 'tick' as const),
    ]);
    if (event === 'stop') break;
    if (event !== 'tick') {
      death = event;
      break;
    }
    const outcomes = await runRound(steps, mesh.ztunnels, round);
    // A round cut short by Ctrl-C fails for that reason alone: not worth a line.
    if (stop.wasRequested()) break;
    print(roundSummary(round, outcomes));
  }
  if (death !== undefined) {
    print(`${mark(false)} ${death}`);
    await mesh.stop(STOP_TIMEOUT_MS);
    await keepLogsOrClean(mesh);
    return 1;
  }
  print('\nStopping: SIGTERM to each ztunnel, which drains its connections.');
  const stopped = await mesh.stop(STOP_TIMEOUT_MS);
  for (const result of stopped) print(formatCheck(checkCleanExit(result), '  '));
  await mesh.removeDir();
  return 0;
}

function roundSummary(round: number, outcomes: readonly StepOutcome[]): string {
  const checks = allChecks(outcomes);
  const failed = checks.filter((check) => !check.ok);
  const time = new Date().toTimeString().slice(0, 8);
  const summary = `${dim(time)}  round ${String(round)}: ${String(connectionCount(outcomes))} connections`;
  if (failed.length === 0) return `${summary}, ${mark(true)} all ${String(checks.length)} checks passed`;
  return [
    `${summary}, ${mark(false)} ${String(failed.length)} checks failed`,
    ...failed.map((c) => formatCheck(c, '    ')),
  ].join('\n');
}

function checkCleanExit(result: StopResult): CheckLine {
  const ok = !result.killed && result.code === 0 && result.signal === null;
  const text = ok
    ? `${result.node}: ztunnel drained and exited 0 on SIGTERM`
    : `${result.node}: ztunnel ${result.killed ? 'had to be killed' : `ended with ${describeExit(result)}`} after SIGTERM`;
  return { kind: 'shutdown', ok, text, count: 1 };
}

/** After a failure: the ztunnel logs stay for reading; a dir with nothing to read goes. */
async function keepLogsOrClean(mesh: LocalMesh): Promise<void> {
  if (mesh.ztunnels.size === 0) await mesh.removeDir();
  else printLogLocation(mesh);
}

function printLogLocation(mesh: LocalMesh): void {
  if (mesh.dir === undefined || mesh.ztunnels.size === 0) return;
  print(`ztunnel logs kept in ${mesh.dir}:`);
  for (const ztunnel of mesh.ztunnels.values()) print(`  ${ztunnel.logPath}  ${ztunnel.stderrPath}`);
}

interface StopSignal {
  /** Resolves on the first SIGINT or SIGTERM. */
  readonly requested: Promise<void>;
  wasRequested(): boolean;
}

/** The first Ctrl-C or SIGTERM asks for a clean stop; a second one kills the ztunnels and leaves. */
function stopSignal(mesh: LocalMesh): StopSignal {
  let requested = false;
  let resolveRequested: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    resolveRequested = resolve;
  });
  const onSignal = (): void => {
    if (requested) {
      print('second signal: killing the ztunnels');
      mesh.killNow();
      process.exit(1);
    }
    requested = true;
    resolveRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { requested: promise, wasRequested: () => requested };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

process.exit(await main());
