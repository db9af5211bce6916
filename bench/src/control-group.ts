import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { OURS } from './paths.js';
import { RowSet, type Row } from './report.js';
import type { BenchGroup } from './suite.js';

const run = promisify(execFile);
const CONTROL_MAIN = fileURLToPath(new URL('control-main.js', import.meta.url));
/** One measurement process: 10,000 policies and a 10,000-workload push take a few seconds at most. */
const CONTROL_TIMEOUT_MS = 120_000;

interface ControlResult {
  readonly decisionsPerSecond: number;
  readonly pushApplyMs: number;
  readonly heapMiBPer1000Workloads: number;
}

/**
 * Control and policy: what a ztunnel pays for the mesh's size rather than per byte. There is no
 * peer for these (stunnel and HAProxy have no xDS or L4 policy), so the rows carry our figure and
 * the absolute targets. Each run is a fresh process started with --expose-gc.
 */
export const controlGroup: BenchGroup = {
  name: 'control',
  title: 'control and policy: 10,000 policies, a 10,000-workload push',
  debianPackages: [],
  async run(context) {
    const rows = new RowSet('control and policy');
    const decisions = rows.define({
      label: 'L4 authorization decisions/s, 10,000 policies in the state, 110 local pods (10 apply to each)',
      unit: 'decisions/s',
      better: 'higher',
      digits: 0,
      targets: [{ description: '≥ 1,000,000 decisions/s', atLeast: 1_000_000 }],
    });
    const push = rows.define({
      label: '10,000-workload push: published → applied by the ztunnel (Delta xDS over gRPC)',
      unit: 'ms',
      better: 'lower',
      digits: 0,
      targets: [{ description: 'under a second', atMost: 1000 }],
    });
    const heap = rows.define({
      label: 'ztunnel heap per 1,000 workloads held',
      unit: 'MiB',
      better: 'lower',
      digits: 2,
    });
    for (let i = 0; i < context.settings.runs; i++) {
      context.progress(`  control run ${String(i + 1)}/${String(context.settings.runs)}`);
      const args = ['--expose-gc', ...cpuProfileArgs(context.cpuProfileDir), CONTROL_MAIN];
      if (context.settings.quick) args.push('--quick');
      const { stdout } = await run(process.execPath, args, { timeout: CONTROL_TIMEOUT_MS });
      const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ControlResult;
      rows.add(decisions, OURS, result.decisionsPerSecond);
      rows.add(push, OURS, result.pushApplyMs);
      rows.add(heap, OURS, result.heapMiBPer1000Workloads);
    }
    return rows.all() satisfies Row[];
  },
};

function cpuProfileArgs(dir: string | undefined): string[] {
  return dir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', dir];
}
