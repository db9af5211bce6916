import { setTimeout as sleep } from 'node:timers/promises';
import { startAppServer } from './app-server.js';
import {
  measureBulk,
  measureNewConnections,
  measureRequestResponse,
  openIdleConnections,
  type BulkResult,
} from './flows.js';
import { directPath, type BenchPath, type PathName } from './paths.js';
import { HAPROXY, STUNNEL, startPeerPair } from './peer-pair.js';
import { cpuSecondsDuring, rssMiB } from './proc-stats.js';
import { RowSet, type Target } from './report.js';
import type { BenchContext, BenchGroup } from './suite.js';
import { ECHO_PORT, SHORT_MESSAGE_BYTES, SHORT_PORT, SINK_PORT } from './topology.js';
import { startZtunnelPair } from './ztunnel-pair.js';

/*
 * L4: the same TCP flows over four paths, taking turns (direct, ztunnel, stunnel, HAProxy, then
 * again), every path's proxies on the proxy core. Each run starts every proxy afresh, so idle
 * memory is measured on a process that has carried nothing yet, and repeated runs are independent.
 * bench/README.md says what each row measures.
 */

const PARALLEL_STREAMS = 8;
const MESSAGE_SIZES = [64, 1024] as const;
// One connection (latency alone) and many (how the proxies share a core among connections).
const MANY_CONNECTIONS = 32;
const CONNECTION_COUNTS = [1, MANY_CONNECTIONS] as const;
const NEW_CONNECTION_CONCURRENCY = 16;
const IDLE_CONNECTIONS = 1_000;
// Opening 1,000 tunnels at once would measure a dial storm, not 1,000 idle tunnels.
const IDLE_DIAL_CONCURRENCY = 50;
// After startup or after closing 1,000 connections: lets allocators and GC settle before reading RSS.
const SETTLE_MS = 1_000;
// Once per path per run before the flows: JIT-compiles every process and opens pooled sessions.
const WARMUP_BULK_BYTES = 64 * 1024 * 1024;
const WARMUP_MS = 300;
const BYTES_PER_GB = 1e9;

const vsHaproxy = (description: string, bound: Pick<Target, 'atLeast' | 'atMost'>): Target => ({
  description,
  against: 'haproxy',
  ...bound,
});

/** Every L4 metric, defined once so rows keep this order whatever order they are measured in. */
function defineMetrics(rows: RowSet) {
  const bulk = (streams: number) =>
    rows.define({
      label: `bulk throughput, ${String(streams)} stream${streams === 1 ? '' : 's'}`,
      unit: 'Gbit/s',
      better: 'higher',
      digits: 2,
      targets: [vsHaproxy('bulk ≥ 1.0× HAProxy pair', { atLeast: 1 })],
    });
  const cpuPerGb = (streams: number) =>
    rows.define({
      label: `proxy CPU per GB moved, bulk ${String(streams)} stream${streams === 1 ? '' : 's'}`,
      unit: 'CPU s/GB',
      better: 'lower',
      digits: 2,
    });
  const requestResponse = (bytes: number, connections: number) => {
    const what = `${bytes === 1024 ? '1 KiB' : `${String(bytes)} B`} req/resp, ${String(connections)} conn${connections === 1 ? '' : 's'}`;
    const latency = (p: number) =>
      rows.define({
        label: `${what}, p${String(p)}`,
        unit: 'µs',
        better: 'lower',
        digits: 0,
        ...(p === 50 && connections === 1
          ? { targets: [vsHaproxy('1-conn p50 ≤ 1.0× HAProxy', { atMost: 1 })] }
          : {}),
      });
    return {
      p50: latency(50),
      p90: latency(90),
      p99: latency(99),
      rate: rows.define({
        label: `${what}, requests/s`,
        unit: 'req/s',
        better: 'higher',
        digits: 0,
        ...(connections === MANY_CONNECTIONS
          ? { targets: [vsHaproxy('32-conn req/resp ≥ 1.5× HAProxy', { atLeast: 1.5 })] }
          : {}),
      }),
    };
  };
  const memory = (what: string, digits: number, targets: (side: string) => Target[]) => ({
    client: rows.define({
      label: `${what}, client side`,
      unit: 'MiB',
      better: 'lower',
      digits,
      targets: targets('client'),
    }),
    server: rows.define({
      label: `${what}, server side`,
      unit: 'MiB',
      better: 'lower',
      digits,
      targets: targets('server'),
    }),
    both: rows.define({ label: `${what}, both sides`, unit: 'MiB', better: 'lower', digits }),
  });
  return {
    bulkOne: bulk(1),
    bulkParallel: bulk(PARALLEL_STREAMS),
    cpuOne: cpuPerGb(1),
    cpuParallel: cpuPerGb(PARALLEL_STREAMS),
    requestResponse: MESSAGE_SIZES.flatMap((bytes) =>
      CONNECTION_COUNTS.map((connections) => ({
        bytes,
        connections,
        labels: requestResponse(bytes, connections),
      })),
    ),
    newConnections: rows.define({
      label: `new connections/s (${String(SHORT_MESSAGE_BYTES)} B each way, ${String(NEW_CONNECTION_CONCURRENCY)} at a time)`,
      unit: 'conn/s',
      better: 'higher',
      digits: 0,
      targets: [vsHaproxy('new conns/s ≥ 5× HAProxy', { atLeast: 5 })],
    }),
    rssIdle: memory('RSS idle', 1, (side) => [
      { description: `ztunnel ${side} side ≤ 60 MiB RSS idle`, atMost: 60 },
    ]),
    rssLoaded: memory(`RSS with ${IDLE_CONNECTIONS.toLocaleString('en')} idle connections`, 1, () => []),
    rssAdded: memory(`RSS added by ${IDLE_CONNECTIONS.toLocaleString('en')} connections`, 1, (side) => [
      { description: `ztunnel ${side} side ≤ +40 MiB with 1,000 connections`, atMost: 40 },
    ]),
  };
}

type Metrics = ReturnType<typeof defineMetrics>;

export const l4Group: BenchGroup = {
  name: 'l4',
  title: 'L4: direct, ztunnel pair (HBONE), stunnel pair, HAProxy pair',
  debianPackages: ['stunnel4', 'haproxy'],
  async run(context) {
    const rows = new RowSet('L4');
    const metrics = defineMetrics(rows);
    const app = await startAppServer();
    try {
      for (let run = 1; run <= context.settings.runs; run++) {
        context.progress(`L4 run ${String(run)} of ${String(context.settings.runs)}: starting every path`);
        const paths = await startPaths(context);
        try {
          await runOnce(context, paths, rows, metrics, run);
          for (const path of paths) await path.verify();
        } finally {
          await stopPaths(context, paths);
        }
      }
    } finally {
      await app.stop();
    }
    return rows.all();
  },
};

async function startPaths(context: BenchContext): Promise<BenchPath[]> {
  const paths: BenchPath[] = [directPath];
  try {
    paths.push(
      await startZtunnelPair({
        pki: context.pki,
        cores: context.cores,
        logDir: context.logDir,
        cpuProfileDir: context.cpuProfileDir,
        progress: context.progress,
      }),
    );
    const peerOptions = {
      pki: context.pki,
      cores: context.cores,
      configDir: context.workDir,
      logDir: context.logDir,
      appPorts: [SINK_PORT, ECHO_PORT, SHORT_PORT],
      echoPort: ECHO_PORT,
      progress: context.progress,
    };
    paths.push(await startPeerPair(STUNNEL, peerOptions));
    paths.push(await startPeerPair(HAPROXY, peerOptions));
  } catch (err) {
    await Promise.all(paths.map((path) => path.stop()));
    throw err;
  }
  return paths;
}

async function stopPaths(context: BenchContext, paths: readonly BenchPath[]): Promise<void> {
  await Promise.all(paths.map((path) => path.stop()));
  const dir = context.cpuProfileDir;
  if (dir === undefined) return;
  for (const path of paths) {
    for (const profile of (await path.cpuProfiles?.(dir)) ?? []) {
      context.addProfile(`L4 ${path.name} ${profile.process}`, profile.path);
    }
  }
}

async function runOnce(
  context: BenchContext,
  paths: readonly BenchPath[],
  rows: RowSet,
  metrics: Metrics,
  run: number,
): Promise<void> {
  const { settings } = context;
  const say = (path: BenchPath, text: string): void => {
    context.progress(`  run ${String(run)} ${path.name.padEnd(8)} ${text}`);
  };

  // Memory first, on processes that have carried nothing yet.
  await sleep(SETTLE_MS);
  for (const path of paths) {
    if (path.proxies.length === 0) continue;
    const idle = proxyRss(path);
    const sockets = await openIdleConnections(path.dial, ECHO_PORT, IDLE_CONNECTIONS, IDLE_DIAL_CONCURRENCY);
    try {
      await sleep(SETTLE_MS);
      const loaded = proxyRss(path);
      recordSides(rows, metrics.rssIdle, path.name, idle);
      recordSides(rows, metrics.rssLoaded, path.name, loaded);
      recordSides(rows, metrics.rssAdded, path.name, {
        client: loaded.client - idle.client,
        server: loaded.server - idle.server,
      });
      say(
        path,
        `RSS idle ${idle.client.toFixed(1)} + ${idle.server.toFixed(1)} MiB, with ${String(sockets.length)} connections ` +
          `${loaded.client.toFixed(1)} + ${loaded.server.toFixed(1)} MiB (client + server side)`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  }
  await sleep(SETTLE_MS);

  for (const path of paths) {
    await measureBulk(path.dial, SINK_PORT, {
      totalBytes: WARMUP_BULK_BYTES,
      connections: 1,
      timeLimitMs: settings.bulkTimeLimitMs,
    });
    await measureRequestResponse(path.dial, ECHO_PORT, {
      connections: MANY_CONNECTIONS,
      messageBytes: 1024,
      warmupMs: 0,
      durationMs: WARMUP_MS,
    });
    await measureNewConnections(path.dial, SHORT_PORT, {
      concurrency: NEW_CONNECTION_CONCURRENCY,
      messageBytes: SHORT_MESSAGE_BYTES,
      durationMs: WARMUP_MS,
    });
  }
  context.progress(`  run ${String(run)} warm-up done`);

  for (const [streams, rateLabel, cpuLabel] of [
    [1, metrics.bulkOne, metrics.cpuOne],
    [PARALLEL_STREAMS, metrics.bulkParallel, metrics.cpuParallel],
  ] as const) {
    for (const path of paths) {
      const pids = path.proxies.map((proxy) => proxy.pid);
      const { result, cpuSeconds } = await cpuSecondsDuring(pids, () =>
        measureBulk(path.dial, SINK_PORT, {
          totalBytes: settings.bulkBytes,
          connections: streams,
          timeLimitMs: settings.bulkTimeLimitMs,
        }),
      );
      rows.add(rateLabel, path.name, result.gbitPerSecond);
      const cpu = cpuSeconds.reduce((sum, s) => sum + s, 0);
      if (pids.length > 0) rows.add(cpuLabel, path.name, cpu / (result.bytes / BYTES_PER_GB));
      say(
        path,
        `bulk ${String(streams)} stream(s): ${describeBulk(result)}${pids.length > 0 ? `, proxies ${cpu.toFixed(2)} CPU s` : ''}`,
      );
    }
  }

  for (const { bytes, connections, labels } of metrics.requestResponse) {
    for (const path of paths) {
      const result = await measureRequestResponse(path.dial, ECHO_PORT, {
        connections,
        messageBytes: bytes,
        warmupMs: settings.requestResponseWarmupMs,
        durationMs: settings.requestResponseMs,
      });
      rows.add(labels.p50, path.name, result.p50Us);
      rows.add(labels.p90, path.name, result.p90Us);
      rows.add(labels.p99, path.name, result.p99Us);
      rows.add(labels.rate, path.name, result.requestsPerSecond);
      say(
        path,
        `${String(bytes)} B x ${String(connections)} conn(s): ${result.requestsPerSecond.toFixed(0)} req/s, ` +
          `p50 ${result.p50Us.toFixed(0)} µs, p99 ${result.p99Us.toFixed(0)} µs`,
      );
    }
  }

  for (const path of paths) {
    const result = await measureNewConnections(path.dial, SHORT_PORT, {
      concurrency: NEW_CONNECTION_CONCURRENCY,
      messageBytes: SHORT_MESSAGE_BYTES,
      durationMs: settings.newConnectionsMs,
    });
    // A path that drops connections under load is not faster, it is broken: stop rather than print a rate.
    if (result.failed > result.completed / 100) {
      throw new Error(
        `${path.name}: ${String(result.failed)} of ${String(result.completed + result.failed)} short connections failed: ${result.firstError ?? ''}`,
      );
    }
    rows.add(metrics.newConnections, path.name, result.perSecond);
    say(path, `new connections: ${result.perSecond.toFixed(0)}/s (${String(result.failed)} failed)`);
  }
}

interface Sides {
  readonly client: number;
  readonly server: number;
}

function proxyRss(path: BenchPath): Sides {
  const of = (side: 'client' | 'server'): number =>
    path.proxies.filter((proxy) => proxy.side === side).reduce((sum, proxy) => sum + rssMiB(proxy.pid), 0);
  return { client: of('client'), server: of('server') };
}

function recordSides(
  rows: RowSet,
  labels: { client: string; server: string; both: string },
  path: PathName,
  sides: Sides,
): void {
  rows.add(labels.client, path, sides.client);
  rows.add(labels.server, path, sides.server);
  rows.add(labels.both, path, sides.client + sides.server);
}

function describeBulk(result: BulkResult): string {
  return `${result.gbitPerSecond.toFixed(2)} Gbit/s (${(result.bytes / (1024 * 1024)).toFixed(0)} MiB in ${result.seconds.toFixed(2)} s)`;
}
