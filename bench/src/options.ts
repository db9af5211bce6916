import { parseArgs } from 'node:util';

export const USAGE = `usage: node bench/dist/main.js [--quick] [--runs N] [--group NAME]... [--cpu-prof] [--write-results]
  --quick          short measurements and 1 run: a minute or two (npm run bench:quick)
  --runs N         repetitions of every measurement, paths taking turns; tables show medians
                   (default 3, or 1 with --quick)
  --group NAME     run only this group (repeat for more): l4, http (default: all)
  --cpu-prof       run our ztunnels under --cpu-prof; profiles go to bench/out/profiles
                   (summarize them with: node bench/dist/profile-summary.js <files>)
  --write-results  replace the latest-results section of bench/RESULTS.md (full runs only)`;

const MIB = 1024 * 1024;

/** How long and how much each measurement runs: one set for `--quick`, one for a full run. */
export interface Settings {
  readonly quick: boolean;
  readonly runs: number;
  readonly groups: readonly string[] | undefined;
  readonly cpuProf: boolean;
  readonly writeResults: boolean;
  /** Per bulk measurement, split over the connections. */
  readonly bulkBytes: number;
  readonly bulkTimeLimitMs: number;
  /** Each request/response measurement: a warm-up, then the measured window. */
  readonly requestResponseWarmupMs: number;
  readonly requestResponseMs: number;
  readonly newConnectionsMs: number;
  /** Each wrk run of the HTTP group. */
  readonly httpSeconds: number;
}

const FULL = {
  runs: 3,
  bulkBytes: 1024 * MIB,
  bulkTimeLimitMs: 5_000,
  requestResponseWarmupMs: 300,
  requestResponseMs: 2_000,
  newConnectionsMs: 3_000,
  httpSeconds: 10,
};

const QUICK: typeof FULL = {
  runs: 1,
  bulkBytes: 256 * MIB,
  bulkTimeLimitMs: 2_000,
  requestResponseWarmupMs: 200,
  requestResponseMs: 1_000,
  newConnectionsMs: 1_500,
  httpSeconds: 3,
};

/** Undefined for --help; throws on a bad value. */
export function parseOptions(argv: string[]): Settings | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      group: { type: 'string', multiple: true },
      'cpu-prof': { type: 'boolean', default: false },
      'write-results': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  const base = values.quick ? QUICK : FULL;
  let runs = base.runs;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a positive integer\n${USAGE}`);
  }
  if (values['write-results'] && values.quick) {
    throw new Error('--write-results records full runs only: drop --quick');
  }
  return {
    ...base,
    quick: values.quick,
    runs,
    groups: values.group,
    cpuProf: values['cpu-prof'],
    writeResults: values['write-results'],
  };
}
