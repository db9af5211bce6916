import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HBONE_PORT } from '@ambient/hbone';
import { socks5Connect, sumOf } from '@ambient/testing';
import { CLIENT_IDENTITY, SERVER_IDENTITY, type BenchPki } from './bench-pki.js';
import { forgetTempDir, hasExited, trackTempDir } from './cleanup.js';
import { hboneHandshake } from './mtls-check.js';
import type { BenchPath, Dialer } from './paths.js';
import { onProxyCore, type CorePlan } from './pinning.js';
import { lastLines, spawnLogged, type LoggedProcess } from './processes.js';
import {
  CLIENT_IP,
  NODE_A_IP,
  NODE_B_IP,
  READINESS_PORT,
  SERVER_IP,
  SOCKS5_PORT,
  STATS_PORT,
} from './topology.js';

/** The real binary, found through the package so the bench follows the daemonset wherever it builds. */
const ZTUNNEL_MAIN = fileURLToPath(new URL('./main.js', import.meta.resolve('@ambient/ztunnel')));
const READY_POLL_INTERVAL_MS = 50;
const READY_POLL_ATTEMPTS = 200;
// Past the binary's own 5 s drain deadline, with time for V8 to write a CPU profile.
const ZTUNNEL_STOP_GRACE_MS = 10_000;

export interface ZtunnelPairOptions {
  readonly pki: BenchPki;
  readonly cores: CorePlan;
  /** Each ztunnel's stdout and stderr (NDJSON logs) go to <logDir>/ztunnel-<node>.log. */
  readonly logDir: string;
  /** When set, the ztunnels run with `--cpu-prof` and write their profiles here on exit. */
  readonly cpuProfileDir?: string | undefined;
  /** Log file names start with this (default `ztunnel`), so two groups' pairs keep separate logs. */
  readonly logPrefix?: string;
  readonly progress: (line: string) => void;
}

export interface ZtunnelNode {
  readonly node: string;
  readonly ip: string;
  readonly pid: number;
  readonly logPath: string;
}

export interface ZtunnelPair extends BenchPath {
  readonly nodes: readonly ZtunnelNode[];
  /** Mutual-TLS connections node-b has accepted so far, from its own Istio metrics. */
  mtlsConnectionsAccepted(): Promise<number>;
  cpuProfiles(dir: string): Promise<{ readonly process: string; readonly path: string }[]>;
}

/**
 * Two ztunnel processes on loopback, as in a two-node cluster: `client` (CLIENT_IP) on node-a,
 * `server` (SERVER_IP) on node-b, both HBONE, with the bench's PKI and a LOCAL_XDS_PATH file.
 * The path's entry is node-a's SOCKS5 port, dialled from CLIENT_IP so node-a knows the caller.
 */
export async function startZtunnelPair(options: ZtunnelPairOptions): Promise<ZtunnelPair> {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-bench-mesh-'));
  trackTempDir(dir);
  const started: { node: ZtunnelNode; process: LoggedProcess }[] = [];
  const stop = async (): Promise<void> => {
    // SIGTERM: they drain and exit, and V8 writes any CPU profile on the way out.
    await Promise.all(started.map(({ process }) => process.stop()));
    await rm(dir, { recursive: true, force: true });
    forgetTempDir(dir);
  };
  let dials = 0;
  try {
    const configPath = join(dir, 'mesh.yaml');
    const workload = (
      identity: typeof CLIENT_IDENTITY | typeof SERVER_IDENTITY,
      ip: string,
      node: string,
    ) => ({
      name: identity.serviceAccount,
      namespace: identity.namespace,
      serviceAccount: identity.serviceAccount,
      workloadIps: [ip],
      protocol: 'HBONE',
      node,
    });
    // JSON is YAML, and needs no YAML library here.
    await writeFile(
      configPath,
      JSON.stringify({
        workloads: [
          workload(CLIENT_IDENTITY, CLIENT_IP, 'node-a'),
          workload(SERVER_IDENTITY, SERVER_IP, 'node-b'),
        ],
        services: [],
      }),
    );
    for (const [node, ip] of [
      ['node-a', NODE_A_IP],
      ['node-b', NODE_B_IP],
    ] as const) {
      const logPath = join(options.logDir, `${options.logPrefix ?? 'ztunnel'}-${node}.log`);
      const profile =
        options.cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir];
      // process.execPath: the same Node 24 that runs the bench, whatever `node` is first on PATH.
      const [command, args] = onProxyCore(options.cores, process.execPath, [...profile, ZTUNNEL_MAIN]);
      const child = spawnLogged(
        command,
        args,
        logPath,
        {
          NODE_NAME: node,
          INSTANCE_IP: ip,
          LOCAL_XDS_PATH: configPath,
          WORKLOAD_CERTS_DIR: options.pki.certsDir,
        },
        ZTUNNEL_STOP_GRACE_MS,
      );
      started.push({ node: { node, ip, pid: child.pid, logPath }, process: child });
    }
    await Promise.all(started.map(({ node, process }) => waitReady(node, process)));
    const tls = await hboneHandshake(SERVER_IP, HBONE_PORT, options.pki);
    options.progress(`  ztunnel: HBONE handshake ${tls}`);
  } catch (err) {
    await stop();
    throw err;
  }
  const dial: Dialer = (port) => {
    dials++;
    return socks5Connect({
      proxyIp: NODE_A_IP,
      proxyPort: SOCKS5_PORT,
      sourceIp: CLIENT_IP,
      targetHost: SERVER_IP,
      targetPort: port,
    });
  };
  return {
    name: 'ztunnel',
    dial,
    nodes: started.map(({ node }) => node),
    proxies: started.map(({ node }) => ({
      side: node.node === 'node-a' ? 'client' : 'server',
      pid: node.pid,
    })),
    // A pair number that did not cross HBONE would be meaningless: node-b must have accepted every dial over mTLS.
    mtlsConnectionsAccepted: mtlsConnectionsAtDestination,
    verify: async () => {
      const accepted = await mtlsConnectionsAtDestination();
      if (accepted < dials) {
        throw new Error(
          `ztunnel node-b accepted ${String(accepted)} mTLS connections for ${String(dials)} dials`,
        );
      }
    },
    stop,
    cpuProfiles: (profileDir) =>
      cpuProfilesOf(
        profileDir,
        started.map(({ node }) => node),
      ),
  };
}

/** Mutual-TLS connections node-b has accepted so far, from its own Istio metrics. */
async function mtlsConnectionsAtDestination(): Promise<number> {
  const text = await (await fetch(`http://${NODE_B_IP}:${String(STATS_PORT)}/metrics`)).text();
  return sumOf(text, 'istio_tcp_connections_opened_total', {
    reporter: 'destination',
    connection_security_policy: 'mutual_tls',
  });
}

/** The CPU profiles the stopped ztunnels wrote to `dir`. */
async function cpuProfilesOf(
  dir: string,
  nodes: readonly ZtunnelNode[],
): Promise<{ process: string; path: string }[]> {
  // V8 names each profile CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile.
  const files = await readdir(dir);
  return nodes.flatMap((node) =>
    files
      .filter((file) => file.includes(`.${String(node.pid)}.`))
      .map((file) => ({ process: node.node, path: join(dir, file) })),
  );
}

/** Polls /healthz/ready: the binary answers 200 only after every listener is bound. */
async function waitReady(node: ZtunnelNode, process: LoggedProcess): Promise<void> {
  const url = `http://${node.ip}:${String(READINESS_PORT)}/healthz/ready`;
  for (let attempt = 0; attempt < READY_POLL_ATTEMPTS; attempt++) {
    if (hasExited(process.child)) {
      throw new Error(
        `ztunnel ${node.node} exited during startup: ${lastLines(node.logPath, 1)}\n(log: ${node.logPath})`,
      );
    }
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_INTERVAL_MS));
  }
  throw new Error(`ztunnel ${node.node} not ready at ${url}; see ${node.logPath}`);
}
