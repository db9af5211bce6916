import { statSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import {
  native,
  type ConnectInNetnsOptions,
  type FileIdentity,
  type IpFamily,
  type SocketAddressInfo,
  type SocketInNetnsOptions,
} from './addon.js';

// Synchronous wrappers over the addon, one syscall (or one short sequence) each. They throw a
// SystemError (see system-error.ts) on failure.

/**
 * Where a connection captured by an iptables REDIRECT was going before NAT rewrote it
 * (SO_ORIGINAL_DST, then IP6T_SO_ORIGINAL_DST). An IPv6 listener on `::` reports IPv4 clients'
 * destinations as IPv4 (family 4).
 */
export function originalDestination(fd: number): SocketAddressInfo {
  return native.originalDestination(fd);
}

export function setMark(fd: number, mark: number): void {
  native.setMark(fd, mark);
}

export function getMark(fd: number): number {
  return native.getMark(fd);
}

export function setTransparent(fd: number, on: boolean, family: IpFamily): void {
  native.setTransparent(fd, on, family);
}

export function getTransparent(fd: number, family: IpFamily): boolean {
  return native.getTransparent(fd, family);
}

export function setFreebind(fd: number, on: boolean, family: IpFamily): void {
  native.setFreebind(fd, on, family);
}

export function setReusePort(fd: number, on: boolean): void {
  native.setReusePort(fd, on);
}

export function getReusePort(fd: number): boolean {
  return native.getReusePort(fd);
}

/** The outcome of a finished non-blocking connect: null, or its SystemError (returned, not thrown). */
export function socketError(fd: number): Error | null {
  return native.socketError(fd);
}

/** getsockname of a raw fd. */
export function localAddress(fd: number): SocketAddressInfo {
  return native.localAddress(fd);
}

/** Closes an fd that no Node object owns (never one a net.Socket or Server has adopted). */
export function closeFd(fd: number): void {
  native.closeFd(fd);
}

/** Identity of the namespace (or any file) an fd refers to. */
export function netnsInode(fd: number): FileIdentity {
  return native.netnsInode(fd);
}

/** Identity of the network namespace the calling thread is in now. */
export function currentNetnsInode(): FileIdentity {
  // Synchronous stat runs on this thread, so /proc/thread-self is the caller's own thread.
  const status = statSync('/proc/thread-self/ns/net');
  return { dev: status.dev, ino: status.ino };
}

/**
 * A non-blocking TCP socket created inside the namespace `netnsFd` refers to (null: where the
 * thread is), bound and listening there when asked. The thread is back in its own namespace
 * when this returns or throws; if it cannot get back, the process aborts.
 */
export function socketInNetns(netnsFd: number | null, options: SocketInNetnsOptions): number {
  return native.socketInNetns(netnsFd, options);
}

/**
 * Starts a non-blocking TCP connect from inside a namespace and returns the fd at once; the
 * connect finishes later (`dialInNetns` waits for it and wraps the fd in a net.Socket).
 */
export function connectInNetns(netnsFd: number | null, options: ConnectInNetnsOptions): number {
  return native.connectInNetns(netnsFd, options);
}

/** The fd under a connected net.Socket or listening net.Server, for the socket options above. */
export function socketFd(socket: Socket | Server): number {
  // Node keeps the libuv handle in `_handle` and exposes its fd on Unix; there is no public API.
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new TypeError('the socket has no file descriptor (not open, or not a TCP socket)');
  }
  return fd;
}
