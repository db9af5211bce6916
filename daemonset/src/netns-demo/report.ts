import { shortIdentity } from '../local-mesh/checks.js';
import { alignColumns, dim, formatCheck, heading, print } from '../local-mesh/report.js';
import { formatTally, answerTally } from './checks.js';
import { ECHO_SERVICE, type DemoPlan } from './demo-plan.js';
import type { Probe } from './probe.js';
import type { StepOutcome } from './tour-runner.js';
import { describeTarget } from './tour.js';

const STEP_HEADER = ['#', 'in pod', 'runs', 'to', 'path (as logged)', 'identities (mTLS)', 'answered by'];

/** Who runs where: the control plane on the bridge, each node's ztunnel and node agent, its pods. */
export function formatOverview(plan: DemoPlan, clusterId: string, logDir: string): string[] {
  const rows: string[][] = [
    [
      'control plane',
      `${plan.controlPlaneIp}:15012`,
      'xDS and CA over TLS, in the cluster network namespace',
    ],
  ];
  for (const node of plan.nodes) {
    rows.push([
      node.name,
      `ztunnel ${node.ip}`,
      `node agent, pods: ${node.pods.map((pod) => `${pod.name} ${pod.ip}${pod.captured ? '' : ' (not captured)'}`).join(', ')}`,
    ]);
  }
  rows.push([
    'service',
    `${ECHO_SERVICE.name} ${ECHO_SERVICE.vip}:${String(ECHO_SERVICE.port)}`,
    'endpoints echo-v1, echo-v2 (port 8080)',
  ]);
  rows.push(['outside', `${plan.outsideIp}:8080`, 'a server no workload has']);
  return [
    ...alignColumns(rows).map((line) => `  ${line}`),
    `  ${dim(`netns cluster ${clusterId}: ip netns list | grep ${clusterId}`)}`,
    `  ${dim(`logs ${logDir}`)}`,
  ];
}

/** The tour as a table, each step's checks under it. */
export function printTour(outcomes: readonly StepOutcome[]): void {
  const about =
    'unmodified programs inside the pods; iptables in each captured pod sends them to its ztunnel';
  print(`\n${heading('Tour')}  ${dim(about)}`);
  const rows = [STEP_HEADER, ...outcomes.map(stepRow)];
  const [header = '', ...lines] = alignColumns(rows);
  print(`  ${dim(header)}`);
  outcomes.forEach((outcome, index) => {
    print(`  ${lines[index] ?? ''}`);
    const command = outcome.probes[0]?.command;
    if (command !== undefined)
      print(`     ${dim(`$ ip netns exec ${outcome.step.from.netnsName} ${command}`)}`);
    for (const check of outcome.checks) print(formatCheck(check, '     '));
  });
}

function stepRow(outcome: StepOutcome): string[] {
  const { step, probes } = outcome;
  const first = probes[0];
  const failure = probes.find((p) => p.answerer === undefined);
  let answered = formatTally(answerTally(probes));
  if (failure !== undefined)
    answered =
      step.expectation === 'denied' ? 'nobody: refused' : `failed: ${failure.complaint || 'no answer'}`;
  return [
    String(step.number),
    step.from.name,
    step.program,
    describeTarget(step),
    pathOf(first),
    identitiesOf(first),
    answered,
  ];
}

/** What the ztunnels logged about the route. */
function pathOf(probe: Probe | undefined): string {
  const outbound = probe?.outbound;
  if (outbound?.error !== undefined) return 'HBONE, denied';
  if (outbound?.['dst.hbone_addr'] !== undefined) return 'HBONE';
  if (outbound?.['dst.workload'] !== undefined) return 'plain TCP';
  if (outbound !== undefined) return 'passthrough';
  if (probe?.inbound !== undefined) return 'inbound plaintext';
  return '?';
}

function identitiesOf(probe: Probe | undefined): string {
  const line = probe?.inbound ?? probe?.outbound;
  if (line?.['src.identity'] === undefined) return '-';
  return `${shortIdentity(line['src.identity'])} → ${shortIdentity(line['dst.identity'])}`;
}
