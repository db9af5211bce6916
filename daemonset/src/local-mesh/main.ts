import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage, formatSocketAddress } from '@ambient/core';
import { checkCertificates, describeRoot, type CaRoot } from './certificate-checks.js';
import { observeCertificates } from './certificate-probe.js';
import type { CheckLine } from './checks.js';
import { keepRunning, ROUND_INTERVAL_MS } from './keep-running.js';
import { LocalMesh } from './local-mesh.js';
import { describeProblem, displayPath, EXAMPLE_MESH_DIR, MeshFolder } from './mesh-folder.js';
import { MeshFollower, SYNC_TIMEOUT_MS } from './mesh-follower.js';
import { CA_LISTEN, planMesh, type MeshPlan } from './mesh-plan.js';
import { waitForZtunnels } from './mesh-sync.js';
import { viewOfSnapshot } from './mesh-view.js';
import { fetchMetrics } from './probe.js';
import {
  alignColumns,
  dim,
  formatCertificates,
  formatCheck,
  formatDenyExcerpt,
  formatEndpoints,
  formatMeshOverview,
  formatMetricExcerpt,
  heading,
  mark,
  print,
  printVerdict,
  STEP_HEADER,
  stepRow,
} from './report.js';
import { checkCleanExit, keepLogsOrClean, printLogLocation } from './shutdown.js';
import { stopSignal } from './stop-signal.js';
import { resolveTour } from './tour.js';
import { allChecks, runRound, type StepOutcome } from './tour-runner.js';

/** The whole demo, shutdown included (and `npm start` up to the end of its tour): hanging is failing. */
const DEMO_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 20_000;
/** A ztunnel drains within its own 5 s termination deadline; this bounds one that does not. */
const STOP_TIMEOUT_MS = 10_000;
const USAGE = `usage: local-mesh [--demo] [--config <folder>]

Runs an ambient mesh on loopback from a folder of Kubernetes YAML: our control plane, which serves
it to the ztunnels over xDS and issues every certificate, a ztunnel process per node, a demo app on
every pod IP, and a tour of real connections through them (one of them denied by a policy).
  (no flag)  run the tour, then again every ${String(ROUND_INTERVAL_MS / 1000)} s until Ctrl-C, following edits of the folder
  --demo     run the tour unattended, check every step, exit 0 only if every check passed
  --config   the folder (default examples/mesh)
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
  const configDir = resolve(args.config ?? EXAMPLE_MESH_DIR);
  let folder: MeshFolder;
  let plan: MeshPlan;
  try {
    folder = await MeshFolder.open(configDir, (message) => {
      print(`${mark(false)} ${configDir}: ${message}`);
    });
  } catch (err) {
    process.stderr.write(`local-mesh: ${errorMessage(err)}\n`);
    return 2;
  }
  try {
    plan = planMesh(folder.current(), configDir);
  } catch (err) {
    process.stderr.write(`local-mesh: ${errorMessage(err)}\n`);
    await folder.close();
    return 2;
  }
  try {
    return await run(mode, plan, folder);
  } finally {
    await folder.close();
  }
}

async function run(mode: Mode, plan: MeshPlan, folder: MeshFolder): Promise<number> {
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
    print('second signal: killing the ztunnels and the control plane');
    mesh.killNow();
  });

  print(heading(`Local ambient mesh on loopback${mode === 'demo' ? ': demo' : ''}`));
  printProblems(plan);
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

  const xdsChecks = await printMeshConfig(mesh, mode);
  const certificateChecks = await printCertificates(mesh, mode);
  const outcomes = await runRound(resolveTour(plan), mesh.ztunnels, 1);
  printTour(outcomes, mode);
  await printEndpoints(mesh);

  if (mode === 'start') {
    clearTimeout(deadline);
    return keepRunning(mesh, new MeshFollower(mesh, folder, plan.problems), stop, STOP_TIMEOUT_MS);
  }
  const stopped = await mesh.stop(STOP_TIMEOUT_MS);
  clearTimeout(deadline);
  const shutdownChecks = stopped.map(checkCleanExit);
  print(`\n${heading('Shutdown')}`);
  for (const check of shutdownChecks) print(formatCheck(check, '  '));

  const checks = [...xdsChecks, ...certificateChecks, ...allChecks(outcomes), ...shutdownChecks];
  if (printVerdict(checks, stop.wasRequested())) {
    await mesh.removeDir();
    return 0;
  }
  await keepLogsOrClean(mesh);
  return 1;
}

/** What the control plane says about the folder: it leaves out (or degrades) what it names, and serves the rest. */
function printProblems(plan: MeshPlan): void {
  if (plan.problems.length === 0) return;
  print(
    `\n${heading('Mesh config problems')}  ${dim('reported by the control plane too; it serves everything else')}`,
  );
  for (const problem of plan.problems) print(`  ! ${describeProblem(problem)}`);
  print();
}

/**
 * Each ztunnel's workloads, services and policies (/config_dump) against the launcher's reading of
 * the folder: the proof that the control plane served the folder over xDS. The demo shows every
 * check, `npm start` only failures.
 */
async function printMeshConfig(mesh: LocalMesh, mode: Mode): Promise<CheckLine[]> {
  const { snapshot, configDir } = mesh.plan;
  const folder = displayPath(configDir);
  const counts = [
    plural(snapshot.workloads.length, 'workload'),
    plural(snapshot.services.length, 'service'),
    plural(snapshot.authorizations?.length ?? 0, 'policy', 'policies'),
  ].join(', ');
  const lagging = await waitForZtunnels(viewOfSnapshot(snapshot), mesh.ztunnels.values(), SYNC_TIMEOUT_MS);
  const checks = [...mesh.ztunnels.values()].map((ztunnel): CheckLine => {
    const behind = lagging.find((l) => l.node === ztunnel.node);
    return behind
      ? {
          kind: 'xds',
          ok: false,
          text: `${ztunnel.node}: expected the mesh of ${folder} over xDS; its /config_dump differs: ${behind.differences.join(', ')}`,
          count: 1,
        }
      : {
          kind: 'xds',
          ok: true,
          text: `${ztunnel.node}: holds the mesh of ${folder} (${counts}), served by the control plane over xDS`,
          count: 1,
        };
  });
  if (mode === 'demo' || checks.some((check) => !check.ok)) {
    print(`\n${heading('Mesh config')}  ${dim("each ztunnel's /config_dump against the folder")}`);
    for (const check of checks) if (mode === 'demo' || !check.ok) print(formatCheck(check, '  '));
  }
  return checks;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${String(count)} ${count === 1 ? one : many}`;
}

/**
 * Each ztunnel's certificates as its /config_dump shows them, checked against the CA's log and the
 * ztunnel's request counter (the demo shows every check, `npm start` only failures).
 */
async function printCertificates(mesh: LocalMesh, mode: Mode): Promise<CheckLine[]> {
  const ca = mesh.controlPlane;
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
  print(
    `\n${heading('Endpoints')}  ${dim('the control plane; metrics, admin, readiness and SOCKS5 of each ztunnel')}`,
  );
  if (mesh.controlPlane) print(formatEndpoints(mesh.plan, mesh.controlPlane).join('\n'));
  // The last node is where the example tour's traffic lands.
  const node = [...mesh.ztunnels.values()].at(-1);
  if (!node) return;
  try {
    const metrics = await fetchMetrics(node);
    print(
      `\n${heading(`istio_tcp_connections_opened_total on ${node.node}`)}  ${dim('(a few of the labels)')}`,
    );
    print(formatMetricExcerpt(metrics).join('\n'));
    const denied = formatDenyExcerpt(metrics);
    if (denied.length > 0) {
      print(
        `\n${heading(`istio_tcp_connections_failed_total on ${node.node}`)}  ${dim('denied by a policy')}`,
      );
      print(denied.join('\n'));
    }
  } catch (err) {
    print(`${mark(false)} metrics of ${node.node}: ${errorMessage(err)}`);
  }
}

process.exit(await main());
