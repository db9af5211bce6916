import type { Server } from 'node:net';
import { ErrorCode, MeshError } from './errors.js';

/**
 * Binds a server and resolves once it listens. A taken port or an address this host does not
 * have fails with one MeshError naming the listener, so startup stops with a clear message.
 */
export function listenOn(server: Server, host: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const reason =
        err.code === 'EADDRINUSE'
          ? 'the address is already in use'
          : err.code === 'EADDRNOTAVAIL'
            ? 'the address is not available on this host'
            : err.message;
      reject(
        new MeshError(
          ErrorCode.ListenFailed,
          `${what} listener could not bind ${host}:${String(port)}: ${reason}`,
          {
            cause: err,
          },
        ),
      );
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Closes a server and resolves when it has stopped (already-closed counts as closed). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}
