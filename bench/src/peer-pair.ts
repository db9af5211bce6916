import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchPki } from './bench-pki.js';
import { checkMutualTls } from './mtls-check.js';
import { haproxyConfig, stunnelConfig, type PeerSide, type Tunnel } from './peer-configs.js';
import { connectFromClient, type BenchPath } from './paths.js';
import { onProxyCore, type CorePlan } from './pinning.js';
import { spawnLogged, waitListening, type LoggedProcess } from './processes.js';
import {
  HAPROXY_CLIENT_IP,
  HAPROXY_PORT_OFFSET,
  HAPROXY_SERVER_IP,
  SERVER_IP,
  STUNNEL_CLIENT_IP,
  STUNNEL_PORT_OFFSET,
  STUNNEL_SERVER_IP,
} from './topology.js';

/*
 * The mTLS tunnel pairs users would pick instead of a mesh: a client-side proxy that takes plain
 * TCP on the app's port and a server-side proxy that terminates TLS and dials the app, both pinned
 * to the proxy core. Configs: peer-configs.ts; the packages come from Debian.
 */

interface PeerKind {
  readonly name: 'stunnel' | 'haproxy';
  readonly command: string;
  readonly args: (configPath: string) => string[];
  readonly config: (side: 'client' | 'server', config: PeerSide) => string;
  readonly clientIp: string;
  readonly serverIp: string;
  readonly portOffset: number;
}

export const STUNNEL: PeerKind = {
  name: 'stunnel',
  command: 'stunnel4',
  args: (configPath) => [configPath],
  config: stunnelConfig,
  clientIp: STUNNEL_CLIENT_IP,
  serverIp: STUNNEL_SERVER_IP,
  portOffset: STUNNEL_PORT_OFFSET,
};

export const HAPROXY: PeerKind = {
  name: 'haproxy',
  command: 'haproxy',
  // -db: stay in the foreground, one process, no master.
  args: (configPath) => ['-db', '-f', configPath],
  config: haproxyConfig,
  clientIp: HAPROXY_CLIENT_IP,
  serverIp: HAPROXY_SERVER_IP,
  portOffset: HAPROXY_PORT_OFFSET,
};

export interface PeerPairOptions {
  readonly pki: BenchPki;
  readonly cores: CorePlan;
  /** Where the config files go (a temp dir the caller removes). */
  readonly configDir: string;
  readonly logDir: string;
  /** App ports to tunnel; the entry takes each on the client-side address, the same number. */
  readonly appPorts: readonly number[];
  /** The port whose app echoes: used to prove the server side requires a client certificate. */
  readonly echoPort: number;
  readonly progress: (line: string) => void;
}

export async function startPeerPair(kind: PeerKind, options: PeerPairOptions): Promise<BenchPath> {
  const tunnels: Tunnel[] = options.appPorts.map((port) => ({
    name: `port${String(port)}`,
    entry: { host: kind.clientIp, port },
    tls: { host: kind.serverIp, port: port + kind.portOffset },
    app: { host: SERVER_IP, port },
  }));
  const started: { side: 'client' | 'server'; process: LoggedProcess }[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map(({ process }) => process.stop()));
  };
  try {
    // Server side first: the client side's first connection must find it listening.
    for (const side of ['server', 'client'] as const) {
      const certificate = side === 'client' ? options.pki.client : options.pki.server;
      const configPath = join(options.configDir, `${kind.name}-${side}.conf`);
      await writeFile(
        configPath,
        kind.config(side, { certificate, rootPath: options.pki.rootPath, tunnels }),
      );
      const [command, args] = onProxyCore(options.cores, kind.command, kind.args(configPath));
      const process = spawnLogged(command, args, join(options.logDir, `${kind.name}-${side}.log`));
      started.push({ side, process });
      for (const tunnel of tunnels) {
        const { host, port } = side === 'client' ? tunnel.entry : tunnel.tls;
        await waitListening(process, host, port).catch((err: unknown) => {
          throw new Error(`${kind.name} ${side} side: ${err instanceof Error ? err.message : String(err)}`);
        });
      }
    }
    const cipher = await checkMutualTls(kind.serverIp, options.echoPort + kind.portOffset, options.pki);
    options.progress(`  ${kind.name}: TLS 1.3 (${cipher}), client certificate required: checked`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name: kind.name,
    dial: (port) => connectFromClient(kind.clientIp, port),
    proxies: started.map(({ side, process }) => ({ side, pid: process.pid })),
    verify: () => Promise.resolve(),
    stop,
  };
}
