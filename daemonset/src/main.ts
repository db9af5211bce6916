import { createLogger, errorMessage, isMeshError } from '@ambient/core';
import { startZtunnel, type Ztunnel } from './app.js';
import { parseConfig, type ZtunnelConfig } from './config.js';

/** The ztunnel binary: config from the environment, start, drain on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: ZtunnelConfig;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    process.stderr.write(`ztunnel: ${errorMessage(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger({
    level: config.logLevel,
    base: { component: 'ztunnel', node: config.nodeName },
  });
  // A node agent must not die for one connection's bug: log it loudly and keep serving the rest.
  process.on('uncaughtException', (err) => {
    logger.fatal({ error: errorMessage(err), stack: err.stack }, 'uncaught exception');
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ error: errorMessage(reason) }, 'unhandled rejection');
  });

  let stopping = false;
  const stop = (): void => {
    if (stopping) {
      logger.warn('second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    if (!ztunnel) process.exit(0);
    void ztunnel.shutdown().then(() => process.exit(0));
  };
  let ztunnel: Ztunnel | undefined;
  try {
    ztunnel = await startZtunnel(config, { logger, onQuitRequest: stop });
  } catch (err) {
    process.stderr.write(`ztunnel: ${isMeshError(err) ? `${err.code}: ` : ''}${errorMessage(err)}\n`);
    process.exit(1);
  }
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();
