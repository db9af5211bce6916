import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { errorMessage, formatSocketAddress } from '@ambient/core';
import { checkCertificates, describeRoot, type CaRoot } from './certificate-checks.js';
import { observeCertificates } from './certificate-probe.js';
import type { CheckLine } from './checks.js';
import { keepRunning, ROUND_INTERVAL_MS } from './keep-running.js';
import { LocalMesh } from './local-mesh.js';
import { CA_LISTEN, planMesh, type MeshPlan } from './mesh-plan.js';
import { fetchMetrics } from './probe.js';
import {
  alignColumns,
  dim,
  formatCertificates,
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
import { checkCleanExit, keepLogsOrClean, printLogLocation } from './shutdown.js';
import { stopSignal } from './stop-signal.js';
import { resolveTour } from './tour.js';
import { allChecks, runRound, type StepOutcome } from './tour-runner.js';

/** The committed example, from daemonset/dist/local-mesh/ up to the repository root. */
const DEFAULT_MESH_FILE = fileURLToPath(new URL('../../../examples/local-mesh.yaml', import.meta.url));
/** The whole demo, shutdown included (and `npm start` up to the end of its tour): hanging is failing. */
const DEMO_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 20_000;
/** A ztunnel drains within its own 5 s termination deadline; this bounds one that does not. */
const STOP_TIMEOUT_MS = 10_000;
const USAGE = `usage: local-mesh [--demo] [--config <mesh.yaml>]

Runs a two-node ambient mesh on loopback: the control plane's CA, which issues every certificate,
a ztunnel process per node, a demo app on every pod IP, and a tour of real connections through them.
  (no flag)  run the tour, then send its traffic every ${String(ROUND_INTERVAL_MS / 1000)} s until Ctrl-C
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
  // Whatever happens to the launcher, its children go with it.
  process.once('exit', () => {
    mesh.killNow();
  });
  const deadline = setTimeout(() => {
    const what = mode === 'demo' ? 'demo' : 'startup';
    print(`\n${mark(false)} the ${what} did not finish within ${String(DEMO_TIMEOUT_MS / 1000)} s`);
    printLogLocation(mesh);
    mesh.killNow();
    process.exit(1);
  }, DEMO_TIMEOUT_MS);
  const stop = stopSignal(() => {
    print('second signal: killing the ztunnels and the CA');
    mesh.killNow();
  });

  print(heading(`Local ambient mesh on loopback${mode === 'demo' ? ': demo' : ''}`));
  try {
    const interrupted = stop.requested.then(() => Promise.reject(new Error('interrupted')));
    await Promise.race([mesh.start(READY_TIMEOUT_MS), interrupted]);
  } catch (err) {
    print(`${mark(false)} the mesh did not start: ${errorMessage(err)}`);
    await mesh.stop(STOP_TIMEOUT_MS);
    await keepLogsOrClean(mesh);
    return 1;
  }
  print(
    formatMeshOverview(plan, formatSocketAddress(CA_LISTEN.ip, CA_LISTEN.port), mesh.logPaths).join('\n'),
  );

  const certificateChecks = await printCertificates(mesh, mode);
  const steps = resolveTour(plan);
  const outcomes = await runRound(steps, mesh.ztunnels, 1);
  printTour(outcomes, mode);
  await printEndpoints(mesh);

  if (mode === 'start') {
    clearTimeout(deadline);
    return keepRunning(mesh, steps, stop, STOP_TIMEOUT_MS);
  }
  const stopped = await mesh.stop(STOP_TIMEOUT_MS);
  clearTimeout(deadline);
  const shutdownChecks = stopped.map(checkCleanExit);
  print(`\n${heading('Shutdown')}`);
  for (const check of shutdownChecks) print(formatCheck(check, '  '));

  const checks = [...certificateChecks, ...allChecks(outcomes), ...shutdownChecks];
  const failed = checks.filter((check) => !check.ok);
  if (stop.wasRequested())
    failed.push({ kind: 'signal', ok: false, text: 'interrupted by a signal', count: 1 });
  if (failed.length === 0) {
    await mesh.removeDir();
    print(`\n${mark(true)} ${heading(`all ${String(checks.length)} checks passed`)}`);
    return 0;
  }
  print(`\n${mark(false)} ${heading(`${String(failed.length)} of ${String(checks.length)} checks failed:`)}`);
  for (const check of failed) print(formatCheck(check, '  '));
  await keepLogsOrClean(mesh);
  return 1;
}

/**
 * Each ztunnel's certificates as its /config_dump shows them, checked against the CA's log and the
 * ztunnel's request counter (the demo shows every check, `npm start` only failures).
 */
async function printCertificates(mesh: LocalMesh, mode: Mode): Promise<CheckLine[]> {
  const ca = mesh.ca;
  if (!ca) return [];
  const about = 'requested by each ztunnel for the mesh workloads on its node, every one issued by the CA';
  print(`\n${heading('Certificates')}  ${dim(about)}`);
  let root: CaRoot | undefined;
  try {
    root = describeRoot(await readFile(ca.rootCertPath, 'utf8'));
  } catch (err) {
    print(`${mark(false)} the CA's root ${ca.rootCertPath}: ${errorMessage(err)}`);
  }
  const observed = await Promise.all(
    mesh.plan.nodes.flatMap((node) => {
      const ztunnel = mesh.ztunnels.get(node.name);
      return ztunnel ? [observeCertificates(node, ztunnel, ca.logs)] : [];
    }),
  );
  print(formatCertificates(observed, ca.address, root).join('\n'));
  const checks = observed.flatMap(checkCertificates);
  for (const check of checks) if (mode === 'demo' || !check.ok) print(formatCheck(check, '  '));
  return checks;
}

/** The tour as a table, each step's checks under it (the demo shows all, `npm start` only failures). */
function printTour(outcomes: readonly StepOutcome[], mode: Mode): void {
  const about = "each step is one connection: SOCKS5 to the caller's ztunnel from the caller's pod IP";
  print(`\n${heading('Tour')}  ${dim(about)}`);
  const rows = [
    STEP_HEADER,
    ...outcomes.map((o) => (o.kind === 'ran' ? stepRow(o.step, o.probes) : [String(o.number), 'skipped'])),
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
  print(`\n${heading('Endpoints')}  ${dim('the CA; metrics, admin, readiness and SOCKS5 of each ztunnel')}`);
  if (mesh.ca) print(formatEndpoints(mesh.plan, mesh.ca).join('\n'));
  // The last node is where the example tour's traffic lands.
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

process.exit(await main());
