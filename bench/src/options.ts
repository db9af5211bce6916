import { parseArgs } from 'node:util';

export const USAGE = `usage: node bench/dist/l4.js [--cpu-prof] [--mib N] [--seconds S] [--runs R] [--round-trips N]
  --cpu-prof       run the ztunnels with --cpu-prof; profiles go to bench/out/profiles
  --mib N          bulk bytes per measurement, split over the connections (default 512)
  --seconds S      time bound of one bulk measurement (default 5)
  --runs R         repetitions of every measurement; the table shows the median (default 3)
  --round-trips N  measured round trips per latency run, after a warm-up (default 2000)`;

const MIB = 1024 * 1024;

export interface BenchOptions {
  readonly cpuProf: boolean;
  readonly bulkBytes: number;
  readonly bulkTimeLimitMs: number;
  readonly runs: number;
  readonly roundTrips: number;
}

/** Undefined for --help; throws on a value that is not a positive number. */
export function parseOptions(argv: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      'cpu-prof': { type: 'boolean', default: false },
      mib: { type: 'string', default: '512' },
      seconds: { type: 'string', default: '5' },
      runs: { type: 'string', default: '3' },
      'round-trips': { type: 'string', default: '2000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) {
      throw new Error(`--${name}: expected a positive number, got "${text}"\n${USAGE}`);
    }
    return n;
  };
  return {
    cpuProf: values['cpu-prof'],
    bulkBytes: Math.round(positive('mib', values.mib) * MIB),
    bulkTimeLimitMs: positive('seconds', values.seconds) * 1000,
    runs: Math.max(1, Math.round(positive('runs', values.runs))),
    roundTrips: Math.max(1, Math.round(positive('round-trips', values['round-trips']))),
  };
}
