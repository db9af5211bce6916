import { formatSocketAddress } from '@ambient/core';
import type { LocalMesh } from './local-mesh.js';
import { describeExit } from './logged-child.js';
import { displayPath } from './mesh-folder.js';
import type { MeshFollower } from './mesh-follower.js';
import { dim, formatCheck, heading, mark, print } from './report.js';
import { checkCleanExit, keepLogsOrClean } from './shutdown.js';
import type { StopSignal } from './stop-signal.js';
import { resolveTour, type ResolvedStep, type StepResolution } from './tour.js';
import { allChecks, connectionCount, runRound, type StepOutcome } from './tour-runner.js';

/** A round of the tour's traffic this often, so the metrics keep moving while someone looks. */
export const ROUND_INTERVAL_MS = 5_000;
const SOCKS5_PORT = 15080;

/**
 * `npm start` after the tour: a round of traffic every few seconds, one summary line each, until
 * Ctrl-C or SIGTERM; then every ztunnel drains, the control plane stops and the temp dir goes.
 * Before each round the mesh follows the folder (a note says what changed), and the round is
 * judged against the policies it has then. Resolves the exit code.
 */
export async function keepRunning(
  mesh: LocalMesh,
  follower: MeshFollower,
  stop: StopSignal,
  stopTimeoutMs: number,
): Promise<number> {
  printTryIt(mesh, resolveTour(mesh.plan));
  const folder = displayPath(mesh.plan.configDir);
  print(
    `\nSending the tour's traffic every ${String(ROUND_INTERVAL_MS / 1000)} s; ` +
      `edit ${folder}/ and the next round follows; Ctrl-C to stop.`,
  );
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
    for (const line of await follower.update()) print(`${dim(clock())}  ${line}`);
    if (stop.wasRequested()) break;
    const outcomes = await runRound(resolveTour(mesh.plan), mesh.ztunnels, round);
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
  print('\nStopping: SIGTERM to each ztunnel, which drains its connections, then to the control plane.');
  const stopped = await mesh.stop(stopTimeoutMs);
  for (const result of stopped) print(formatCheck(checkCleanExit(result), '  '));
  await mesh.removeDir();
  return 0;
}

/**
 * Commands to talk to the mesh by hand, as the tour's first caller: from its pod IP to its node's
 * SOCKS5 port, to a service, and to a destination the policies deny, if the tour has one.
 */
function printTryIt(mesh: LocalMesh, steps: readonly StepResolution[]): void {
  const ready = steps.flatMap((s) => (s.kind === 'ready' ? [s.step] : []));
  const viaService = ready.find((s) => s.isService);
  const denied = ready.find((s) => s.destinations.every((d) => !d.authorization.allowed));
  const caller = viaService ?? ready[0];
  if (!caller) return;
  const { source, sourceNode } = caller;
  print(
    `\n${heading('Try it')}  ${dim(`as ${source.name}: from its pod IP to ${sourceNode.name}'s SOCKS5 port`)}`,
  );
  const curl = (step: ResolvedStep, host: string): string =>
    `  curl --interface ${step.sourceIp} --socks5-hostname ${formatSocketAddress(step.sourceNode.instanceIp, SOCKS5_PORT)} ` +
    `http://${host}:${String(step.target.port)}/`;
  const service =
    viaService && mesh.plan.snapshot.services.find((s) => s.vips.some((v) => v.ip === viaService.target.ip));
  print(curl(caller, service?.hostname ?? caller.target.ip));
  if (denied) {
    const destination = denied.destinations[0];
    const why =
      destination && !destination.authorization.allowed ? destination.authorization.message : 'denied';
    print(
      `${curl(denied, denied.target.ip)}   ${dim(`# ${denied.source.name} → ${denied.targetName}: refused, ${why}`)}`,
    );
  }
}

function roundSummary(round: number, outcomes: readonly StepOutcome[]): string {
  const checks = allChecks(outcomes);
  const failed = checks.filter((check) => !check.ok);
  const summary =
    `${dim(clock())}  round ${String(round)}: ${String(connectionCount(outcomes))} connections, ` +
    describeDenied(outcomes);
  if (failed.length === 0) return `${summary}, ${mark(true)} all ${String(checks.length)} checks passed`;
  return [
    `${summary}, ${mark(false)} ${String(failed.length)} checks failed`,
    ...failed.map((check) => formatCheck(check, '    ')),
  ].join('\n');
}

/** Which steps the policies in force deny (so that an edit of them shows in the next round's line). */
function describeDenied(outcomes: readonly StepOutcome[]): string {
  const denied = outcomes.flatMap((o) =>
    o.kind === 'ran' && o.step.destinations.some((d) => !d.authorization.allowed)
      ? [`${o.step.source.name} → ${o.step.targetName}`]
      : [],
  );
  return denied.length === 0 ? 'no step denied by policy' : `denied by policy: ${denied.join(', ')}`;
}

function clock(): string {
  return new Date().toTimeString().slice(0, 8);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
