import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

/**
 * A node agent must not die for one connection's bug: an uncaught exception or rejection is
 * logged loudly (level fatal, so alerts fire) and the process keeps serving everyone else.
 */
export function logUncaughtErrors(logger: Logger): void {
  process.on('uncaughtException', (err) => {
    logger.fatal({ error: errorMessage(err), stack: err.stack }, 'uncaught exception');
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ error: errorMessage(reason) }, 'unhandled rejection');
  });
}

/**
 * SIGTERM/SIGINT run `shutdown` once, then exit 0; a second signal exits 1 at once (an operator
 * pressing Ctrl-C twice means it). Returns the same stop function for other triggers.
 */
export function stopOnSignals(logger: Logger, shutdown: () => Promise<void>): () => void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) {
      logger.warn('second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    void shutdown().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return stop;
}
