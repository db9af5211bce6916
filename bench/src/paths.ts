import net from 'node:net';
import { CLIENT_IP, SERVER_IP } from './topology.js';

/*
 * A path is one way for the client to reach the app: directly, or through a pair of proxies that
 * carry plain TCP over mutual TLS from the client's side to the server's. Every flow runs over
 * every path in turn, with the same client, app and cores.
 */

/** ours first, then the physical limit, then the peers users would pick instead. */
export const PATH_NAMES = ['ztunnel', 'direct', 'stunnel', 'haproxy'] as const;
export type PathName = (typeof PATH_NAMES)[number];
export const OURS: PathName = 'ztunnel';
export const DIRECT: PathName = 'direct';
export const PEERS: readonly PathName[] = ['stunnel', 'haproxy'];

/** Opens a connection to the app's `port` on SERVER_IP through the path; resolves with a paused socket. */
export type Dialer = (port: number) => Promise<net.Socket>;

export interface ProxyProcess {
  readonly side: 'client' | 'server';
  readonly pid: number;
}

export interface BenchPath {
  readonly name: PathName;
  readonly dial: Dialer;
  /** The processes the path adds (none for direct): their memory and CPU are the path's cost. */
  readonly proxies: readonly ProxyProcess[];
  /** Checks, after the flows, that the traffic really crossed the path as claimed. */
  verify(): Promise<void>;
  stop(): Promise<void>;
  /** After stop(), with --cpu-prof: the profiles the path's processes wrote to `dir` (ours only). */
  cpuProfiles?(dir: string): Promise<{ readonly process: string; readonly path: string }[]>;
}

/** Plain TCP from CLIENT_IP to `host:port`; resolves with a paused socket once connected. */
export function connectFromClient(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, localAddress: CLIENT_IP, allowHalfOpen: true, noDelay: true });
    socket.pause();
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** No proxy: the client dials the app, plain TCP on loopback, the physical limit of every flow. */
export const directPath: BenchPath = {
  name: 'direct',
  dial: (port) => connectFromClient(SERVER_IP, port),
  proxies: [],
  verify: () => Promise.resolve(),
  stop: () => Promise.resolve(),
};
