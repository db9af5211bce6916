import { execFileSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAppServer } from './app-server.js';
import {
  directDialer,
  measureBulk,
  measureRoundTrips,
  ztunnelPairDialer,
  type Dialer,
  type RoundTripOptions,
} from './flows.js';
import { renderRuns, renderTable, summarize, type PathRuns } from './report.js';
import { ECHO_PORT, NODE_B_IP, SINK_PORT, STATS_PORT } from './topology.js';
import { startZtunnelPair, type ZtunnelNode } from './ztunnel-pair.js';

/*
 * `npm run bench:l4`: the same flows over two paths, side by side, in one run.
 *   direct        client → app, plain TCP on loopback
 *   ztunnel pair  client → SOCKS5 of ztunnel node-a → HBONE (mTLS, HTTP/2 CONNECT) → ztunnel node-b → app
 * The ztunnels are the real binary in their own processes; the app server is a third process and
 * the load client is this one. Each measurement repeats; the table shows the median of the repeats.
 * See bench/README.md for what each flow measures and how to read the ratios.
 */

const USAGE = `usage: node bench/dist/l4.js [--cpu-prof] [--mib N] [--seconds S] [--runs R] [--round-trips N]
  --cpu-prof       run the ztunnels with --cpu-prof; profiles go to bench/out/profiles
  --mib N          bulk bytes per measurement, split over the connections (default 512)
  --seconds S      time bound of one bulk measurement (default 5)
  --runs R         repetitions of every measurement; the table shows the median (default 3)
  --round-trips N  measured round trips per latency run, after a warm-up (default 2000)`;

const PARALLEL_CONNECTIONS = 8;
const REQUEST_BYTES = 1024;
const WARMUP_ROUND_TRIPS = 200;
const ROUND_TRIP_TIME_LIMIT_MS = 10_000;
// Before the first repetition of each path: JIT-compiles both ends and opens the HBONE session.
const WARMUP_BULK_BYTES = 64 * 1024 * 1024;
const WARMUP_TIME_LIMIT_MS = 2_000;
const MIB = 1024 * 1024;

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(benchDir, 'out');

interface Options {
  readonly cpuProf: boolean;
  readonly bulkBytes: number;
  readonly bulkTimeLimitMs: number;
  readonly runs: number;
  readonly roundTrips: number;
}

function parseOptions(argv: string[]): Options {
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
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0)
      throw new Error(`--${name}: expected a positive number, got "${text}"\n${USAGE}`);
    return n;
  };
  return {
    cpuProf: values['cpu-prof'],
    bulkBytes: Math.round(positive('mib', values.mib) * MIB),
    bulkTimeLimitMs: positive('seconds', values.seconds) * 1000,
    runs: Math.round(positive('runs', values.runs)),
    roundTrips: Math.round(positive('round-trips', values['round-trips'])),
  };
}

/** Counts the dials, so the bench can check every pair connection really crossed node-b over mTLS. */
function counted(dial: Dialer): { dial: Dialer; count: () => number } {
  let dials = 0;
  return {
    dial: (port) => {
      dials++;
      return dial(port);
    },
    count: () => dials,
  };
}

async function measurePaths(
  options: Options,
  paths: Record<'direct' | 'pair', Dialer>,
): Promise<Record<'direct' | 'pair', PathRuns>> {
  const results = {
    direct: { bulkOne: [], bulkParallel: [], roundTrips: [] } as PathRuns,
    pair: { bulkOne: [], bulkParallel: [], roundTrips: [] } as PathRuns,
  };
  const roundTripOptions: RoundTripOptions = {
    requestBytes: REQUEST_BYTES,
    warmupRoundTrips: WARMUP_ROUND_TRIPS,
    roundTrips: options.roundTrips,
    timeLimitMs: ROUND_TRIP_TIME_LIMIT_MS,
  };
  const names = ['direct', 'pair'] as const;
  for (const name of names) {
    progress(`warm-up ${name}`);
    await measureBulk(paths[name], SINK_PORT, {
      totalBytes: WARMUP_BULK_BYTES,
      connections: 1,
      timeLimitMs: WARMUP_TIME_LIMIT_MS,
    });
    await measureRoundTrips(paths[name], ECHO_PORT, roundTripOptions);
  }
  // Paths alternate within each repetition, so a noisy neighbour slows both rather than one.
  for (let run = 1; run <= options.runs; run++) {
    for (const name of names) {
      const one = await measureBulk(paths[name], SINK_PORT, {
        totalBytes: options.bulkBytes,
        connections: 1,
        timeLimitMs: options.bulkTimeLimitMs,
      });
      results[name].bulkOne.push(one.gbitPerSecond);
      progress(`run ${String(run)} ${name}: 1 connection ${gbit(one.bytes, one.seconds)}`);
    }
    for (const name of names) {
      const parallel = await measureBulk(paths[name], SINK_PORT, {
        totalBytes: options.bulkBytes,
        connections: PARALLEL_CONNECTIONS,
        timeLimitMs: options.bulkTimeLimitMs,
      });
      results[name].bulkParallel.push(parallel.gbitPerSecond);
      progress(
        `run ${String(run)} ${name}: ${String(PARALLEL_CONNECTIONS)} connections ${gbit(parallel.bytes, parallel.seconds)}`,
      );
    }
    for (const name of names) {
      const rr = await measureRoundTrips(paths[name], ECHO_PORT, roundTripOptions);
      results[name].roundTrips.push(rr);
      progress(
        `run ${String(run)} ${name}: ${String(rr.roundTrips)} round trips, p50 ${rr.p50Us.toFixed(0)} µs, p99 ${rr.p99Us.toFixed(0)} µs`,
      );
    }
  }
  return results;
}

function gbit(bytes: number, seconds: number): string {
  return `${((bytes * 8) / seconds / 1e9).toFixed(2)} Gbit/s (${(bytes / MIB).toFixed(0)} MiB in ${seconds.toFixed(2)} s)`;
}

function progress(line: string): void {
  process.stdout.write(`  ${line}\n`);
}

/** Mutual-TLS connections node-b's ztunnel accepted, from its own Istio metrics. */
async function mtlsConnectionsAtDestination(): Promise<number> {
  const text = await (await fetch(`http://${NODE_B_IP}:${String(STATS_PORT)}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (
      line.startsWith('istio_tcp_connections_opened_total{') &&
      line.includes('reporter="destination"') &&
      line.includes('connection_security_policy="mutual_tls"')
    ) {
      total += Number(line.slice(line.lastIndexOf('}') + 1));
    }
  }
  return total;
}

/** How this run was started, to write beside its results. */
function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  const script = process.env.npm_lifecycle_event;
  if (script !== undefined) return `npm run ${script}${args ? ` -- ${args}` : ''}`;
  return `node ${relative(process.cwd(), process.argv[1] ?? '')}${args ? ` ${args}` : ''}`;
}

/** The commit measured, "-dirty" when the work tree has changes: results only compare at equal code. */
function sourceRevision(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], {
      cwd: benchDir,
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown (no git)';
  }
}

async function profilesOf(dir: string, nodes: readonly ZtunnelNode[]): Promise<string[]> {
  // V8 names each profile CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile.
  const files = await readdir(dir);
  return nodes.flatMap((node) =>
    files
      .filter((file) => file.includes(`.${String(node.pid)}.`))
      .map((file) => `${node.node}: ${join(dir, file)}`),
  );
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const profileDir = options.cpuProf ? join(outDir, 'profiles') : undefined;
  await mkdir(profileDir ?? outDir, { recursive: true });
  const machine = `nproc ${String(availableParallelism())} (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`;
  process.stdout.write(`L4 bench: direct vs ztunnel pair, ${machine}\n`);

  const pairDialer = counted(ztunnelPairDialer);
  const server = await startAppServer();
  let results: Record<'direct' | 'pair', PathRuns>;
  try {
    const pair = await startZtunnelPair({ logDir: join(outDir, 'logs'), cpuProfileDir: profileDir });
    try {
      results = await measurePaths(options, { direct: directDialer, pair: pairDialer.dial });
      const mtls = await mtlsConnectionsAtDestination();
      if (mtls < pairDialer.count()) {
        throw new Error(
          `node-b accepted ${String(mtls)} mTLS connections for ${String(pairDialer.count())} pair dials`,
        );
      }
    } finally {
      await pair.stop();
    }
    if (profileDir !== undefined) {
      process.stdout.write(`CPU profiles (open in Chrome DevTools → Performance, or speedscope):\n`);
      for (const line of await profilesOf(profileDir, pair.nodes)) process.stdout.write(`  ${line}\n`);
    }
  } finally {
    await server.stop();
  }

  const rows = summarize(results.direct, results.pair, PARALLEL_CONNECTIONS);
  const table = renderTable(rows);
  const runs = renderRuns(rows);
  process.stdout.write(`\n${table}\n\n${runs}\n`);
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const report = [
    `# L4 bench ${startedAt.toISOString()}`,
    '',
    `- command: \`${commandLine()}\``,
    `- date: ${startedAt.toISOString()}`,
    `- machine: ${machine}`,
    `- code: ${sourceRevision()}`,
    `- bulk: ${String(options.bulkBytes / MIB)} MiB per measurement, at most ${String(options.bulkTimeLimitMs / 1000)} s; ` +
      `round trips: ${String(options.roundTrips)} after ${String(WARMUP_ROUND_TRIPS)} warm-up; median of ${String(options.runs)} runs`,
    '',
    table,
    '',
    runs,
    '',
  ].join('\n');
  const reportPath = join(outDir, `l4-${stamp}.md`);
  await writeFile(reportPath, report);
  await writeFile(
    join(outDir, `l4-${stamp}.json`),
    `${JSON.stringify({ startedAt, command: commandLine(), machine, code: sourceRevision(), options, results }, null, 2)}\n`,
  );
  process.stdout.write(
    `\nwritten: ${relative(process.cwd(), reportPath)} (raw runs in the .json beside it)\n`,
  );
}

try {
  await main();
} catch (err) {
  process.stderr.write(`L4 bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  // exit (not exitCode) so the cleanup in cleanup.ts runs even if something still holds the loop open.
  process.exit(1);
}
