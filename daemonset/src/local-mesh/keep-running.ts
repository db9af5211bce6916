import { formatSocketAddress } from '@ambient/core';
import type { LocalMesh } from './local-mesh.js';
import { dim, formatCheck, heading, mark, print } from './report.js';
import { checkCleanExit, keepLogsOrClean } from './shutdown.js';
import type { StopSignal } from './stop-signal.js';
import type { StepResolution } from './tour.js';
import { describeExit } from './logged-child.js';
import { allChecks, connectionCount, runRound, type StepOutcome } from './tour-runner.js';

/** A round of the tour's traffic this often, so the metrics keep moving while someone looks. */
export const ROUND_INTERVAL_MS = 5_000;
const SOCKS5_PORT = 15080;

/**
 * `npm start` after the tour: a round of traffic every few seconds, one summary line each, until
 * Ctrl-C or SIGTERM; then every ztunnel drains, the CA stops and the temp dir goes. Resolves the
 * exit code.
 */
export async function keepRunning(
  mesh: LocalMesh,
  steps: readonly StepResolution[],
  stop: StopSignal,
  stopTimeoutMs: number,
): Promise<number> {
  printTryIt(mesh);
  print(`\nSending the tour's traffic every ${String(ROUND_INTERVAL_MS / 1000)} s; Ctrl-C to stop.`);
  const died = mesh.firstExit().then(({ who, exit }) => `${who} exited unexpectedly (${describeExit(exit)})`);
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
    await mesh.stop(stopTimeoutMs);
    await keepLogsOrClean(mesh);
    return 1;
  }
  print('\nStopping: SIGTERM to each ztunnel, which drains its connections, then to the CA.');
  const stopped = await mesh.stop(stopTimeoutMs);
  for (const result of stopped) print(formatCheck(checkCleanExit(result), '  '));
  await mesh.removeDir();
  return 0;
}

/** A command to talk to the mesh by hand, as the first workload of the first node. */
function printTryIt(mesh: LocalMesh): void {
  const node = mesh.plan.nodes[0];
  const caller = node?.workloads[0];
  const callerIp = caller?.workloadIps[0];
  const service = mesh.plan.snapshot.services[0];
  const port = service?.ports[0]?.servicePort;
  if (!node || !caller || callerIp === undefined || !service || port === undefined) return;
  print(`\n${heading('Try it')}  ${dim(`as ${caller.name}: from its pod IP to ${node.name}'s SOCKS5 port`)}`);
  print(
    `  curl --interface ${callerIp} --socks5-hostname ${formatSocketAddress(node.instanceIp, SOCKS5_PORT)} ` +
      `http://${service.hostname}:${String(port)}/`,
  );
}

function roundSummary(round: number, outcomes: readonly StepOutcome[]): string {
  const checks = allChecks(outcomes);
  const failed = checks.filter((check) => !check.ok);
  const time = new Date().toTimeString().slice(0, 8);
  const summary = `${dim(time)}  round ${String(round)}: ${String(connectionCount(outcomes))} connections`;
  if (failed.length === 0) return `${summary}, ${mark(true)} all ${String(checks.length)} checks passed`;
  return [
    `${summary}, ${mark(false)} ${String(failed.length)} checks failed`,
    ...failed.map((check) => formatCheck(check, '    ')),
  ].join('\n');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
