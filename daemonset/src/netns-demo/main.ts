import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { errorMessage } from '@ambient/core';
import { formatSample, samplesOf } from '@ambient/testing';
import type { CheckLine } from '../local-mesh/checks.js';
import { describeExit } from '../local-mesh/logged-child.js';
import { dim, formatCheck, heading, mark, print, printVerdict } from '../local-mesh/report.js';
import { stopSignal } from '../local-mesh/stop-signal.js';
import { checkCapture } from './capture-checks.js';
import { NetnsMesh, type StopResult } from './netns-mesh.js';
import { formatOverview, printTour } from './report.js';
import { allChecks, runTour } from './tour-runner.js';
import { planTour } from './tour.js';

/** The whole demo, teardown included: hanging is failing. */
const DEMO_TIMEOUT_MS = 120_000;
const READY_TIMEOUT_MS = 30_000;
/** A ztunnel drains within its own 5 s termination deadline; this bounds one that does not. */
const STOP_TIMEOUT_MS = 10_000;
/** What the demo runs: iproute2, util-linux (nsenter), iptables (nft backend) and curl. */
const REQUIRED_COMMANDS = ['ip', 'nsenter', 'iptables-nft-restore', 'iptables-nft-save', 'curl'] as const;
const METRIC_EXCERPT_LABELS = [
  'reporter',
  'source_workload',
  'destination_workload',
  'connection_security_policy',
  'response_flags',
];
const USAGE = `usage: npm run demo:netns   (as root)

Runs the ambient mesh on a cluster of network namespaces with real capture: two nodes, three pods
each, our control plane, and on each node a node agent (istio-cni's part: iptables in every
captured pod, ZDS) and a ztunnel in in-pod mode. Then unmodified programs (curl, and nc when
netcat-openbsd is installed) inside the pods talk through the mesh; every step is checked. Exits 0
only if every check passed; removes every namespace and process it made, even on Ctrl-C.
`;

async function main(): Promise<number> {
  try {
    if (parseArgs({ options: { help: { type: 'boolean', short: 'h', default: false } } }).values.help) {
      print(USAGE);
      return 0;
    }
  } catch (err) {
    process.stderr.write(`demo:netns: ${errorMessage(err)}\n${USAGE}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      'demo:netns needs root: it creates network namespaces, veths and iptables rules.\n' +
        'Run it as root (sudo npm run demo:netns); `npm run demo` shows the same mesh on loopback without root.\n',
    );
    return 1;
  }
  const missing = REQUIRED_COMMANDS.filter((command) => !hasCommand(command));
  if (missing.length > 0) {
    process.stderr.write(
      `demo:netns needs ${missing.join(', ')} (Debian: apt-get install iproute2 util-linux iptables curl)\n`,
    );
    return 1;
  }
  const withNc = hasOpenbsdNc();

  print(heading('Ambient mesh on network namespaces, with real capture: demo'));
  let mesh: NetnsMesh;
  try {
    mesh = await NetnsMesh.create();
  } catch (err) {
    print(`${mark(false)} could not build the namespaces: ${errorMessage(err)}`);
    return 1;
  }
  // The cluster's own exit hook deletes its namespaces and kills what runs in them.
  const deadline = setTimeout(() => {
    print(
      `\n${mark(false)} the demo did not finish within ${String(DEMO_TIMEOUT_MS / 1000)} s; logs in ${mesh.dir}`,
    );
    process.exit(1);
  }, DEMO_TIMEOUT_MS);
  const stop = stopSignal(() => {
    print('second signal: removing the namespaces now');
  });

  const checks: CheckLine[] = [];
  let started = false;
  try {
    const interrupted = stop.requested.then(() => Promise.reject(new Error('interrupted')));
    await Promise.race([
      mesh.start(READY_TIMEOUT_MS, (text) => {
        print(`  ${dim(text)}`);
      }),
      interrupted,
    ]);
    started = true;
  } catch (err) {
    print(`${mark(false)} the mesh did not start: ${errorMessage(err)}`);
    checks.push({ kind: 'start', ok: false, text: `the mesh did not start: ${errorMessage(err)}`, count: 1 });
  }

  if (started) {
    print(`\n${heading('Cluster')}`);
    print(formatOverview(mesh.plan, mesh.cluster.id, mesh.dir).join('\n'));

    print(`\n${heading('Capture')}  ${dim('what each node agent installed, as seen inside the pods')}`);
    const capture = await checkCapture(mesh);
    for (const check of capture) print(formatCheck(check, '  '));
    checks.push(...capture);

    if (!withNc) print(`\n${dim('nc (netcat-openbsd) is not installed: the raw TCP step is left out')}`);
    const outcomes = await runTour(planTour(mesh.plan, { nc: withNc }), {
      cluster: mesh.cluster,
      plan: mesh.plan,
      ztunnels: mesh.ztunnels,
      fetchMetrics: (node) => mesh.fetchMetrics(node),
      shouldStop: () => stop.wasRequested(),
    });
    printTour(outcomes);
    checks.push(...allChecks(outcomes));
    await printMetricExcerpt(mesh);
  }

  print(`\n${heading('Shutdown')}`);
  const stopped = await mesh.stop(STOP_TIMEOUT_MS);
  const shutdownChecks = started ? stopped.map(checkCleanExit) : [];
  await mesh.destroy();
  shutdownChecks.push(checkNamespacesGone(mesh));
  for (const check of shutdownChecks) print(formatCheck(check, '  '));
  checks.push(...shutdownChecks);
  clearTimeout(deadline);

  if (printVerdict(checks, stop.wasRequested())) {
    await mesh.removeDir();
    return 0;
  }
  print(`logs kept in ${mesh.dir}`);
  return 1;
}

function checkCleanExit(result: StopResult): CheckLine {
  const ok = !result.killed && result.code === 0 && result.signal === null;
  const how = result.killed ? 'had to be killed' : `ended with ${describeExit(result)}`;
  const clean = result.role === 'ztunnel' ? 'drained and exited 0' : 'exited 0';
  const text = ok ? `${result.name}: ${clean} on SIGTERM` : `${result.name}: ${how} after SIGTERM`;
  return { kind: 'shutdown', ok, text, count: 1 };
}

function checkNamespacesGone(mesh: NetnsMesh): CheckLine {
  const result = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  const left = result.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(`${mesh.cluster.id}-`));
  return left.length === 0
    ? { kind: 'shutdown', ok: true, text: `cluster ${mesh.cluster.id}: every namespace removed`, count: 1 }
    : { kind: 'shutdown', ok: false, text: `cluster ${mesh.cluster.id}: left ${left.join(', ')}`, count: 1 };
}

/** A few of node-b's counters, where most of the tour lands. */
async function printMetricExcerpt(mesh: NetnsMesh): Promise<void> {
  const node = mesh.plan.nodes.at(-1)?.name;
  if (node === undefined) return;
  try {
    const text = await mesh.fetchMetrics(node);
    const lines = samplesOf(text, 'istio_tcp_connections_opened_total')
      .filter((sample) => sample.labels.get('reporter') === 'destination')
      .map((sample) => `  ${formatSample(sample, METRIC_EXCERPT_LABELS).slice(sample.name.length)}`);
    print(
      `\n${heading(`istio_tcp_connections_opened_total on ${node}`)}  ${dim('(reporter="destination", a few labels)')}`,
    );
    print(lines.join('\n'));
  } catch (err) {
    print(`${mark(false)} metrics of ${node}: ${errorMessage(err)}`);
  }
}

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** OpenBSD's nc has -N (shut the socket down at the end of input), which the raw TCP step needs. */
function hasOpenbsdNc(): boolean {
  if (!hasCommand('nc')) return false;
  const help = spawnSync('nc', ['-h'], { encoding: 'utf8' });
  return `${help.stdout}${help.stderr}`.includes('-N');
}

process.exit(await main());
