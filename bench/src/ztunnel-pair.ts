import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sumOf, TestPki } from '@ambient/testing';
import { forgetTempDir, hasExited, stopChild, trackChild, trackTempDir } from './cleanup.js';
import { CLIENT_IP, NODE_A_IP, NODE_B_IP, READINESS_PORT, SERVER_IP, STATS_PORT } from './topology.js';

/** The real binary, found through the package so the bench follows the daemonset wherever it builds. */
const ZTUNNEL_MAIN = fileURLToPath(new URL('./main.js', import.meta.resolve('@ambient/ztunnel')));
const READY_POLL_INTERVAL_MS = 50;
const READY_POLL_ATTEMPTS = 200;
// Long enough for a drain with no open connection and for V8 to write a CPU profile.
const ZTUNNEL_STOP_GRACE_MS = 10_000;

export interface ZtunnelPairOptions {
  /** Each ztunnel's stdout and stderr (NDJSON logs) go to <logDir>/ztunnel-<node>.log. */
  readonly logDir: string;
  /** When set, the ztunnels run with `--cpu-prof` and write their profiles here on exit. */
  readonly cpuProfileDir?: string | undefined;
}

export interface ZtunnelNode {
  readonly node: string;
  readonly ip: string;
  readonly pid: number;
  readonly logPath: string;
}

export interface ZtunnelPair {
  readonly nodes: readonly ZtunnelNode[];
  /** Mutual-TLS connections node-b has accepted so far, from its own Istio metrics. */
  mtlsConnectionsAtDestination(): Promise<number>;
  /** SIGTERM both (they drain and exit, writing any CPU profile), then remove the temp dir. */
  stop(): Promise<void>;
}

/**
 * Two ztunnel processes on loopback, as in a two-node cluster: `client` (CLIENT_IP) on node-a,
 * `server` (SERVER_IP) on node-b, both HBONE, with a throwaway PKI and a LOCAL_XDS_PATH file.
 */
export async function startZtunnelPair(options: ZtunnelPairOptions): Promise<ZtunnelPair> {
  const dir = await mkdtemp(join(tmpdir(), 'ambient-bench-'));
  trackTempDir(dir);
  const children: { node: ZtunnelNode; child: ChildProcess }[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(({ child }) => stopChild(child, ZTUNNEL_STOP_GRACE_MS)));
    await rm(dir, { recursive: true, force: true });
    forgetTempDir(dir);
  };
  try {
    const pki = await TestPki.create();
    const certsDir = join(dir, 'certs');
    await pki.writeCertificateDir(certsDir, [
      { namespace: 'default', serviceAccount: 'client' },
      { namespace: 'default', serviceAccount: 'server' },
    ]);
    const configPath = join(dir, 'mesh.yaml');
    // JSON is YAML, and needs no YAML library here.
    await writeFile(
      configPath,
      JSON.stringify({
        workloads: [
          {
            name: 'client',
            namespace: 'default',
            serviceAccount: 'client',
            workloadIps: [CLIENT_IP],
            protocol: 'HBONE',
            node: 'node-a',
          },
          {
            name: 'server',
            namespace: 'default',
            serviceAccount: 'server',
            workloadIps: [SERVER_IP],
            protocol: 'HBONE',
            node: 'node-b',
          },
        ],
        services: [],
      }),
    );
    mkdirSync(options.logDir, { recursive: true });
    for (const [node, ip] of [
      ['node-a', NODE_A_IP],
      ['node-b', NODE_B_IP],
    ] as const) {
      const logPath = join(options.logDir, `ztunnel-${node}.log`);
      const env = {
        NODE_NAME: node,
        INSTANCE_IP: ip,
        LOCAL_XDS_PATH: configPath,
        WORKLOAD_CERTS_DIR: certsDir,
      };
      const child = spawnZtunnel(env, logPath, options.cpuProfileDir);
      children.push({ node: { node, ip, pid: child.pid ?? -1, logPath }, child });
    }
    await Promise.all(children.map(({ node, child }) => waitReady(node, child)));
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: children.map(({ node }) => node), mtlsConnectionsAtDestination, stop };
}

async function mtlsConnectionsAtDestination(): Promise<number> {
  const text = await (await fetch(`http://${NODE_B_IP}:${String(STATS_PORT)}/metrics`)).text();
  return sumOf(text, 'istio_tcp_connections_opened_total', {
    reporter: 'destination',
    connection_security_policy: 'mutual_tls',
  });
}

/** The CPU profiles the stopped ztunnels wrote to `dir`, as "node: path". */
export async function cpuProfilesOf(dir: string, nodes: readonly ZtunnelNode[]): Promise<string[]> {
  // V8 names each profile CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile.
  const files = await readdir(dir);
  return nodes.flatMap((node) =>
    files
      .filter((file) => file.includes(`.${String(node.pid)}.`))
      .map((file) => `${node.node}: ${join(dir, file)}`),
  );
}

function spawnZtunnel(
  env: Record<string, string>,
  logPath: string,
  cpuProfileDir: string | undefined,
): ChildProcess {
  const log = openSync(logPath, 'w');
  try {
    const profile = cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir];
    // process.execPath: the same Node 24 that runs the bench, whatever `node` is first on PATH.
    const child = spawn(process.execPath, [...profile, ZTUNNEL_MAIN], {
      env: { ...process.env, ...env },
      stdio: ['ignore', log, log],
    });
    trackChild(child);
    return child;
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(log);
  }
}

/** Polls /healthz/ready: the binary answers 200 only after every listener is bound. */
async function waitReady(node: ZtunnelNode, child: ChildProcess): Promise<void> {
  const url = `http://${node.ip}:${String(READINESS_PORT)}/healthz/ready`;
  for (let attempt = 0; attempt < READY_POLL_ATTEMPTS; attempt++) {
    if (hasExited(child)) {
      throw new Error(
        `ztunnel ${node.node} exited during startup: ${lastLine(node.logPath)}\n(log: ${node.logPath})`,
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

/** The binary's last words: on a startup failure, the reason it printed before exiting. */
function lastLine(path: string): string {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  return lines.at(-1) ?? '(empty log)';
}
