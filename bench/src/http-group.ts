import { join } from 'node:path';
import { forkHelper } from './app-server.js';
import { startNginx } from './nginx.js';
import type { PathName } from './paths.js';
import { cpuSeconds, rssMiB } from './proc-stats.js';
import { RowSet, type Target } from './report.js';
import type { BenchContext, BenchGroup } from './suite.js';
import { CLIENT_IP, FORWARDER_IP, HTTP_PORT, NODE_A_IP, SERVER_IP, SOCKS5_PORT } from './topology.js';
import { runWrk, type WrkResult } from './wrk.js';
import { startZtunnelPair, type ZtunnelPair } from './ztunnel-pair.js';

/*
 * HTTP/1.1 through the L4 mesh: wrk against nginx, directly and through the ztunnel pair (wrk
 * cannot speak SOCKS5, so it enters through the bench's plain-TCP → SOCKS5 forwarder on the load
 * core). Two loads: about 1,000 requests/s (Istio's published ztunnel figure is measured at 1,000
 * requests/s with 1 KB responses and 4 client connections) for the ztunnels' CPU and memory per
 * 1,000 requests/s, and wrk at full speed on 32 connections for requests/s and latency.
 */

// 4 connections, each pausing 4 ms after every response: ~1,000 requests/s less the latency.
const FIXED_RATE_CONNECTIONS = 4;
const FIXED_RATE_PAUSE_MS = 4;
const FULL_LOAD_CONNECTIONS = 32;
const RSS_SAMPLE_INTERVAL_MS = 250;
// Istio 1.24's "Performance and Scalability" page: ztunnel at 1,000 HTTP requests/s, 1 KB payload.
const ISTIO_ZTUNNEL_VCPU_PER_1000_RPS = 0.06;
const ISTIO_ZTUNNEL_MIB_AT_1000_RPS = (12 * 1e6) / (1024 * 1024);

const HTTP_PATHS: readonly PathName[] = ['ztunnel', 'direct'];

function defineMetrics(rows: RowSet) {
  const latency = (load: string) => ({
    p50: rows.define({ label: `${load}, p50`, unit: 'µs', better: 'lower', digits: 0 }),
    p90: rows.define({ label: `${load}, p90`, unit: 'µs', better: 'lower', digits: 0 }),
    p99: rows.define({ label: `${load}, p99`, unit: 'µs', better: 'lower', digits: 0 }),
  });
  const fixed = `~1,000 req/s (${String(FIXED_RATE_CONNECTIONS)} conns)`;
  const full = `full load (${String(FULL_LOAD_CONNECTIONS)} conns)`;
  const istio = (what: string, atMost: number): Target[] => [
    { description: `Istio's published ztunnel figure: ${what}`, atMost, reference: true },
  ];
  const perSide = (what: string, unit: string, digits: number, targets: Target[]) => ({
    client: rows.define({ label: `${what}, client side`, unit, better: 'lower', digits, targets }),
    server: rows.define({ label: `${what}, server side`, unit, better: 'lower', digits, targets }),
  });
  return {
    fixedRate: rows.define({ label: `${fixed}, requests/s`, unit: 'req/s', better: 'higher', digits: 0 }),
    fixedLatency: latency(fixed),
    cpuPer1000: perSide(
      `ztunnel CPU per 1,000 req/s at ${fixed}`,
      'vCPU',
      3,
      istio(`${String(ISTIO_ZTUNNEL_VCPU_PER_1000_RPS)} vCPU`, ISTIO_ZTUNNEL_VCPU_PER_1000_RPS),
    ),
    rssAt1000: perSide(`ztunnel RSS at ${fixed}`, 'MiB', 1, istio('12 MB', ISTIO_ZTUNNEL_MIB_AT_1000_RPS)),
    fullRate: rows.define({ label: `${full}, requests/s`, unit: 'req/s', better: 'higher', digits: 0 }),
    fullLatency: latency(full),
    fullCpuPer1000: rows.define({
      label: `ztunnel CPU per 1,000 req/s at ${full}, both sides`,
      unit: 'vCPU',
      better: 'lower',
      digits: 3,
    }),
  };
}

export const httpGroup: BenchGroup = {
  name: 'http',
  title: 'HTTP/1.1 through the L4 mesh: wrk → nginx, direct and through the ztunnel pair',
  debianPackages: ['nginx', 'wrk'],
  async run(context) {
    const rows = new RowSet('HTTP');
    const metrics = defineMetrics(rows);
    const nginx = await startNginx({
      dir: join(context.workDir, 'nginx'),
      logDir: context.logDir,
      ip: SERVER_IP,
      port: HTTP_PORT,
    });
    try {
      const pair = await startZtunnelPair({
        pki: context.pki,
        cores: context.cores,
        logDir: context.logDir,
        cpuProfileDir: context.cpuProfileDir,
        progress: context.progress,
        logPrefix: 'http-ztunnel',
      });
      try {
        const forwarder = await forkHelper('./socks-forwarder-main.js', [
          JSON.stringify({
            listenIp: FORWARDER_IP,
            listenPort: HTTP_PORT,
            proxyIp: NODE_A_IP,
            proxyPort: SOCKS5_PORT,
            sourceIp: CLIENT_IP,
            targetIp: SERVER_IP,
            targetPort: HTTP_PORT,
          }),
        ]);
        try {
          const tunnelled = await measure(context, pair, rows, metrics);
          // Every wrk connection through the pair must have crossed HBONE with mTLS.
          const accepted = await pair.mtlsConnectionsAccepted();
          if (accepted < tunnelled) {
            throw new Error(
              `ztunnel node-b accepted ${String(accepted)} mTLS connections for ${String(tunnelled)} wrk connections`,
            );
          }
        } finally {
          await forwarder.stop();
        }
      } finally {
        await pair.stop();
        if (context.cpuProfileDir !== undefined) {
          for (const profile of await pair.cpuProfiles(context.cpuProfileDir)) {
            context.addProfile(`HTTP ztunnel ${profile.process}`, profile.path);
          }
        }
      }
    } finally {
      await nginx.stop();
    }
    return rows.all();
  },
};

/** Runs every load over both paths, taking turns; returns how many wrk connections went through the pair. */
async function measure(
  context: BenchContext,
  pair: ZtunnelPair,
  rows: RowSet,
  metrics: ReturnType<typeof defineMetrics>,
): Promise<number> {
  const url = (path: PathName): string =>
    `http://${path === 'direct' ? SERVER_IP : FORWARDER_IP}:${String(HTTP_PORT)}/`;
  const sides = (['client', 'server'] as const).map((side) => ({
    side,
    pid: pair.proxies.find((proxy) => proxy.side === side)?.pid ?? -1,
  }));
  const seconds = context.settings.httpSeconds;
  let tunnelled = 0;
  const wrk = async (path: PathName, connections: number, delayMs?: number) => {
    if (path === 'ztunnel') tunnelled += connections;
    const cpuBefore = sides.map(({ pid }) => cpuSeconds(pid));
    const peakRss = sides.map(() => 0);
    const sampler = setInterval(() => {
      sides.forEach(({ pid }, i) => {
        peakRss[i] = Math.max(peakRss[i] ?? 0, rssMiB(pid));
      });
    }, RSS_SAMPLE_INTERVAL_MS);
    const started = performance.now();
    let result: WrkResult;
    try {
      result = await runWrk({
        url: url(path),
        connections,
        seconds,
        scriptDir: context.workDir,
        ...(delayMs === undefined ? {} : { delayMs }),
      });
    } finally {
      clearInterval(sampler);
    }
    const wallSeconds = (performance.now() - started) / 1000;
    // vCPU per 1,000 requests/s: CPU seconds per second of load, divided by thousands of requests per second.
    const vcpuPer1000 = sides.map(
      ({ pid }, i) =>
        (cpuSeconds(pid) - (cpuBefore[i] ?? 0)) / wallSeconds / (result.requestsPerSecond / 1000),
    );
    return { result, vcpuPer1000, peakRss };
  };

  for (let run = 1; run <= context.settings.runs; run++) {
    const say = (path: PathName, text: string): void => {
      context.progress(`  run ${String(run)} ${path.padEnd(8)} ${text}`);
    };
    for (const path of HTTP_PATHS) {
      const { result, vcpuPer1000, peakRss } = await wrk(path, FIXED_RATE_CONNECTIONS, FIXED_RATE_PAUSE_MS);
      rows.add(metrics.fixedRate, path, result.requestsPerSecond);
      rows.add(metrics.fixedLatency.p50, path, result.p50Us);
      rows.add(metrics.fixedLatency.p90, path, result.p90Us);
      rows.add(metrics.fixedLatency.p99, path, result.p99Us);
      let extra = '';
      if (path === 'ztunnel') {
        rows.add(metrics.cpuPer1000.client, path, vcpuPer1000[0] ?? Number.NaN);
        rows.add(metrics.cpuPer1000.server, path, vcpuPer1000[1] ?? Number.NaN);
        rows.add(metrics.rssAt1000.client, path, peakRss[0] ?? Number.NaN);
        rows.add(metrics.rssAt1000.server, path, peakRss[1] ?? Number.NaN);
        extra = `; ztunnels ${vcpuPer1000.map((v) => v.toFixed(3)).join(' + ')} vCPU per 1,000 req/s, ${peakRss.map((v) => v.toFixed(1)).join(' + ')} MiB`;
      }
      say(
        path,
        `HTTP ~1,000 req/s: ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50Us.toFixed(0)} µs, p99 ${result.p99Us.toFixed(0)} µs${extra}`,
      );
    }
    for (const path of HTTP_PATHS) {
      const { result, vcpuPer1000 } = await wrk(path, FULL_LOAD_CONNECTIONS);
      rows.add(metrics.fullRate, path, result.requestsPerSecond);
      rows.add(metrics.fullLatency.p50, path, result.p50Us);
      rows.add(metrics.fullLatency.p90, path, result.p90Us);
      rows.add(metrics.fullLatency.p99, path, result.p99Us);
      if (path === 'ztunnel')
        rows.add(
          metrics.fullCpuPer1000,
          path,
          vcpuPer1000.reduce((sum, v) => sum + v, 0),
        );
      say(
        path,
        `HTTP full load: ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50Us.toFixed(0)} µs, p99 ${result.p99Us.toFixed(0)} µs`,
      );
    }
  }
  return tunnelled;
}
