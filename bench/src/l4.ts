import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAppServer } from './app-server.js';
import {
  directDialer,
  measureBulk,
  measureRoundTrips,
  ztunnelPairDialer,
  type Dialer,
  type RoundTripOptions,
} from './flows.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { renderRuns, renderTable, summarize, type PathRuns } from './report.js';
import { commandLine, machine, sourceRevision } from './run-info.js';
import { ECHO_PORT, SINK_PORT } from './topology.js';
import { cpuProfilesOf, startZtunnelPair } from './ztunnel-pair.js';

/*
 * `npm run bench:l4`: the same flows over two paths, side by side, in one run.
 *   direct        client → app, plain TCP on loopback
 *   ztunnel pair  client → SOCKS5 of ztunnel node-a → HBONE (mTLS, HTTP/2 CONNECT) → ztunnel node-b → app
 * The ztunnels are the real binary in their own processes, the app server is another, and the
 * load client is this one. Every measurement repeats; the table shows the median of the repeats.
 * bench/README.md says what each flow measures and how to read the ratios.
 */

const PARALLEL_CONNECTIONS = 8;
const REQUEST_BYTES = 1024;
const WARMUP_ROUND_TRIPS = 200;
const ROUND_TRIP_TIME_LIMIT_MS = 10_000;
// Once per path before the first repetition: JIT-compiles every process and opens the HBONE session.
const WARMUP_BULK_BYTES = 64 * 1024 * 1024;
const WARMUP_TIME_LIMIT_MS = 2_000;
const MIB = 1024 * 1024;

const repoDir = fileURLToPath(new URL('../..', import.meta.url));
const outDir = join(repoDir, 'bench', 'out');

type Path = 'direct' | 'pair';
const PATHS: readonly Path[] = ['direct', 'pair'];

async function measurePaths(
  options: BenchOptions,
  dialers: Record<Path, Dialer>,
): Promise<Record<Path, PathRuns>> {
  const emptyRuns = (): PathRuns => ({ bulkOne: [], bulkParallel: [], roundTrips: [] });
  const results = { direct: emptyRuns(), pair: emptyRuns() };
  const roundTripOptions: RoundTripOptions = {
    requestBytes: REQUEST_BYTES,
    warmupRoundTrips: WARMUP_ROUND_TRIPS,
    roundTrips: options.roundTrips,
    timeLimitMs: ROUND_TRIP_TIME_LIMIT_MS,
  };
  const bulk = (path: Path, connections: number) =>
    measureBulk(dialers[path], SINK_PORT, {
      totalBytes: options.bulkBytes,
      connections,
      timeLimitMs: options.bulkTimeLimitMs,
    });

  for (const path of PATHS) {
    progress(`warm-up ${path}`);
    const warmup = { totalBytes: WARMUP_BULK_BYTES, connections: 1, timeLimitMs: WARMUP_TIME_LIMIT_MS };
    await measureBulk(dialers[path], SINK_PORT, warmup);
    await measureRoundTrips(dialers[path], ECHO_PORT, roundTripOptions);
  }
  // The paths take turns within each repetition, so a noisy neighbour slows both rather than one.
  for (let run = 1; run <= options.runs; run++) {
    const label = (path: Path): string => `run ${String(run)} ${path.padEnd(6)}`;
    for (const path of PATHS) {
      const result = await bulk(path, 1);
      results[path].bulkOne.push(result.gbitPerSecond);
      progress(`${label(path)} 1 connection: ${describeBulk(result)}`);
    }
    for (const path of PATHS) {
      const result = await bulk(path, PARALLEL_CONNECTIONS);
      results[path].bulkParallel.push(result.gbitPerSecond);
      progress(`${label(path)} ${String(PARALLEL_CONNECTIONS)} connections: ${describeBulk(result)}`);
    }
    for (const path of PATHS) {
      const rr = await measureRoundTrips(dialers[path], ECHO_PORT, roundTripOptions);
      results[path].roundTrips.push(rr);
      progress(
        `${label(path)} ${String(rr.roundTrips)} round trips: p50 ${rr.p50Us.toFixed(0)} µs, p99 ${rr.p99Us.toFixed(0)} µs`,
      );
    }
  }
  return results;
}

function describeBulk(result: { gbitPerSecond: number; bytes: number; seconds: number }): string {
  return `${result.gbitPerSecond.toFixed(2)} Gbit/s (${(result.bytes / MIB).toFixed(0)} MiB in ${result.seconds.toFixed(2)} s)`;
}

function progress(line: string): void {
  process.stdout.write(`  ${line}\n`);
}

/** Counts the dials, so the bench can check that every pair connection really reached node-b over mTLS. */
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

async function main(options: BenchOptions): Promise<void> {
  const startedAt = new Date();
  const profileDir = options.cpuProf ? join(outDir, 'profiles') : undefined;
  await mkdir(profileDir ?? outDir, { recursive: true });
  process.stdout.write(`L4 bench: direct vs ztunnel pair, ${machine()}\n`);

  const pairDialer = counted(ztunnelPairDialer);
  let results: Record<Path, PathRuns>;
  const server = await startAppServer();
  try {
    const pair = await startZtunnelPair({ logDir: join(outDir, 'logs'), cpuProfileDir: profileDir });
    try {
      results = await measurePaths(options, { direct: directDialer, pair: pairDialer.dial });
      // Guards the comparison itself: a pair number that did not cross HBONE would be meaningless.
      const mtls = await pair.mtlsConnectionsAtDestination();
      if (mtls < pairDialer.count()) {
        throw new Error(
          `node-b accepted ${String(mtls)} mTLS connections for ${String(pairDialer.count())} dials`,
        );
      }
    } finally {
      await pair.stop();
    }
    if (profileDir !== undefined) {
      process.stdout.write(
        'ztunnel CPU profiles (Chrome DevTools → Performance → Load profile, or speedscope):\n',
      );
      for (const line of await cpuProfilesOf(profileDir, pair.nodes)) process.stdout.write(`  ${line}\n`);
    }
  } finally {
    await server.stop();
  }

  const rows = summarize(results.direct, results.pair, PARALLEL_CONNECTIONS);
  const table = renderTable(rows);
  const runs = renderRuns(rows);
  process.stdout.write(`\n${table}\n\n${runs}\n`);
  const header = {
    command: commandLine(),
    date: startedAt.toISOString(),
    machine: machine(),
    code: sourceRevision(repoDir),
    options,
  };
  const report = [
    `# L4 bench, ${header.date}`,
    '',
    `- command: \`${header.command}\``,
    `- date: ${header.date}`,
    `- machine: ${header.machine}`,
    `- code: ${header.code}`,
    `- bulk: ${String(options.bulkBytes / MIB)} MiB per measurement, at most ${String(options.bulkTimeLimitMs / 1000)} s; ` +
      `latency: ${String(options.roundTrips)} round trips after ${String(WARMUP_ROUND_TRIPS)} warm-up; ` +
      `median of ${String(options.runs)} runs`,
    '',
    table,
    '',
    runs,
    '',
  ].join('\n');
  const base = join(outDir, `l4-${header.date.replace(/[:.]/g, '-')}`);
  await writeFile(`${base}.md`, report);
  await writeFile(`${base}.json`, `${JSON.stringify({ ...header, results }, null, 2)}\n`);
  process.stdout.write(`\nwritten: ${relative(process.cwd(), base)}.md (each run in the .json beside it)\n`);
}

try {
  const options = parseOptions(process.argv.slice(2));
  if (options === undefined) process.stdout.write(`${USAGE}\n`);
  else await main(options);
} catch (err) {
  process.stderr.write(`L4 bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  // exit, not exitCode: cleanup.ts's exit hook then runs even if a handle still holds the loop open.
  process.exit(1);
}
