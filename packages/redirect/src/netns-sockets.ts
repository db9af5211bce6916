import { Socket, type Server } from 'node:net';
import { ErrorCode, MeshError, errorMessage, formatSocketAddress } from '@ambient/core';
import type { ConnectInNetnsOptions, IpFamily } from './addon.js';
import { waitWritable } from './poller.js';
import { closeFd, connectInNetns, socketError, socketInNetns } from './sockets.js';
import { isSystemError } from './system-error.js';

/** ztunnel's listen backlog for in-pod listeners. */
export const INPOD_LISTEN_BACKLOG = 128;

/** How long a TCP connect may take before it is abandoned, as ztunnel's. */
export const CONNECT_TIMEOUT_MS = 10_000;

export interface ListenInNetnsOptions {
  family: IpFamily;
  address: string;
  port: number;
  backlog?: number;
  mark?: number;
  transparent?: boolean;
  freebind?: boolean;
  reusePort?: boolean;
  v6Only?: boolean;
}

/**
 * Makes `server` listen on a socket created inside a network namespace (null: this thread's own).
 * The server then accepts connections made inside that namespace only. Fails with
 * MESH_ERR_LISTEN_FAILED (the SystemError as cause).
 */
export function listenInNetns(
  server: Server,
  netnsFd: number | null,
  options: ListenInNetnsOptions,
): Promise<void> {
  const { address, port, backlog = INPOD_LISTEN_BACKLOG, ...socketOptions } = options;
  const where = formatSocketAddress(address, port);
  let fd: number;
  try {
    fd = socketInNetns(netnsFd, {
      ...socketOptions,
      type: 'stream',
      bind: { address, port },
      listen: backlog,
    });
  } catch (err) {
    return Promise.reject(
      new MeshError(
        ErrorCode.ListenFailed,
        `cannot listen on ${where} in the namespace: ${errorMessage(err)}`,
        {
          cause: err,
        },
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(
        new MeshError(ErrorCode.ListenFailed, `cannot listen on ${where}: ${err.message}`, { cause: err }),
      );
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // The server adopts the fd (and closes it with itself); libuv calls listen() again, harmlessly.
    server.listen({ fd, backlog });
  });
}

export interface DialInNetnsOptions extends ConnectInNetnsOptions {
  timeoutMs?: number;
  /** Default true: a FIN from one side must become end() on the other, not a close. */
  allowHalfOpen?: boolean;
  /** Default true: proxies forward small writes as they come. */
  noDelay?: boolean;
}

/**
 * Connects from inside a network namespace (null: this thread's own) and resolves with a
 * connected net.Socket.
 *
 * Node can only adopt an fd, never connect one it did not create, and it treats an adopted fd
 * as already connected: 'connect' never fires and a refused connect would surface later as a read
 * error. So the connect is started in the namespace, a libuv poller waits (without blocking the
 * loop) until the fd is writable, SO_ERROR tells success from failure, and only a connected fd is
 * handed to net.Socket. Fails with MESH_ERR_CONNECT_FAILED or MESH_ERR_CONNECT_TIMEOUT (cause:
 * the SystemError); a failure to enter the namespace or to bind rejects with the SystemError itself.
 */
export async function dialInNetns(netnsFd: number | null, options: DialInNetnsOptions): Promise<Socket> {
  const { timeoutMs = CONNECT_TIMEOUT_MS, allowHalfOpen = true, noDelay = true, ...connect } = options;
  const target = formatSocketAddress(connect.address, connect.port);
  let fd: number;
  try {
    fd = connectInNetns(netnsFd, connect);
  } catch (err) {
    if (isSystemError(err) && err.syscall === 'connect') throw connectFailed(target, err);
    throw err;
  }

  let writable: boolean;
  try {
    writable = await waitWritable(fd, timeoutMs);
  } catch (err) {
    closeFd(fd);
    throw err;
  }
  if (!writable) {
    closeFd(fd);
    throw new MeshError(ErrorCode.ConnectTimeout, `connect to ${target} timed out`);
  }
  const failure = socketError(fd);
  if (failure !== null) {
    closeFd(fd);
    throw connectFailed(target, failure);
  }
  const socket = new Socket({
    fd,
    readable: true,
    writable: true,
    allowHalfOpen,
  });
  socket.setNoDelay(noDelay);
  return socket;
}

function connectFailed(target: string, err: Error): MeshError {
  return new MeshError(ErrorCode.ConnectFailed, `connect to ${target} failed: ${err.message}`, {
    cause: err,
  });
}
