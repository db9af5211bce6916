import { createRequire } from 'node:module';

/** 4 or 6, as Node's `net` reports families. */
export type IpFamily = 4 | 6;

/** An IP socket address as the kernel reports it (IPv6 without brackets). */
export interface SocketAddressInfo {
  address: string;
  port: number;
  family: IpFamily;
}

/** `fstat` identity of an fd: two namespace fds name the same namespace when both fields match. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

/** A TCP socket made by `socketInNetns`: bound and listening when asked, not connected. */
export interface SocketInNetnsOptions {
  family: IpFamily;
  type?: 'stream';
  bind?: { address: string; port: number };
  /** Listen with this backlog (the socket also gets SO_REUSEADDR, as Node's listeners do). */
  listen?: number;
  /** SO_MARK, e.g. 1337 so in-pod iptables rules let ztunnel's own traffic through. */
  mark?: number;
  /** IP_TRANSPARENT / IPV6_TRANSPARENT: bind or accept addresses that are not local. */
  transparent?: boolean;
  /** IP_FREEBIND / IPV6_FREEBIND: bind an address not (yet) configured. */
  freebind?: boolean;
  /** SO_REUSEPORT: a new ztunnel binds the same ports while the old one drains. */
  reusePort?: boolean;
  /** IPV6_V6ONLY for IPv6 sockets; the system default (dual-stack on Linux) when absent. */
  v6Only?: boolean;
}

/** A TCP connect started by `connectInNetns` (non-blocking: it completes later). */
export interface ConnectInNetnsOptions {
  family: IpFamily;
  address: string;
  port: number;
  /** Source address; with `transparent`, any address (the client's, to spoof it). */
  bindAddress?: string;
  bindPort?: number;
  mark?: number;
  transparent?: boolean;
  freebind?: boolean;
}

/** One SEQPACKET message. The receiver owns every fd in `fds` and must close the ones it does not keep. */
export interface SeqpacketPacket {
  data: Buffer;
  fds: number[];
  /** The message was longer than the read buffer, or carried more fds than fit. */
  truncated: boolean;
}

/**
 * Called on readiness. Level-triggered: it fires again while the condition holds and the poller
 * runs. `error` is a libuv error name ("EBADF"); then both directions are reported ready.
 */
export type PollCallback = (readable: boolean, writable: boolean, error: string | null) => void;

/** A libuv poll handle on a raw fd. It never owns the fd: close the poller before the fd. */
export interface Poller {
  start(readable: boolean, writable: boolean): void;
  stop(): void;
  close(): void;
  ref(): void;
  unref(): void;
}

interface NativeAddon {
  originalDestination(fd: number): SocketAddressInfo;
  setMark(fd: number, mark: number): void;
  getMark(fd: number): number;
  setTransparent(fd: number, on: boolean, family: IpFamily): void;
  getTransparent(fd: number, family: IpFamily): boolean;
  setFreebind(fd: number, on: boolean, family: IpFamily): void;
  setReusePort(fd: number, on: boolean): void;
  getReusePort(fd: number): boolean;
  socketError(fd: number): Error | null;
  localAddress(fd: number): SocketAddressInfo;
  closeFd(fd: number): void;
  socketInNetns(netnsFd: number | null, options: SocketInNetnsOptions): number;
  connectInNetns(netnsFd: number | null, options: ConnectInNetnsOptions): number;
  netnsInode(fd: number): FileIdentity;
  seqpacketConnect(path: string): number;
  seqpacketListen(path: string, backlog: number): number;
  seqpacketAccept(fd: number): number | null;
  seqpacketSend(fd: number, bytes: Uint8Array, fds?: readonly number[]): boolean;
  seqpacketRecv(fd: number, maxBytes: number): SeqpacketPacket | null;
  Poller: new (fd: number, callback: PollCallback) => Poller;
}

// The same relative path from src/ (tests) and dist/ (built): both sit beside build/.
export const native = createRequire(import.meta.url)('../build/Release/redirect.node') as NativeAddon;
