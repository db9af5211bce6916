import { createLogger, errorMessage, isMeshError } from '@ambient/core';
import { startControlPlane, type ControlPlane } from './app.js';
import { parseConfig, type ControlPlaneConfig } from './config.js';

/** The control-plane binary: for now the CA alone. Config from the environment; stop on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: ControlPlaneConfig;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    process.stderr.write(`control-plane: ${errorMessage(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel, base: { component: 'control-plane' } });
  process.on('uncaughtException', (err) => {
    logger.fatal({ error: errorMessage(err), stack: err.stack }, 'uncaught exception');
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ error: errorMessage(reason) }, 'unhandled rejection');
  });

  let controlPlane: ControlPlane;
  try {
    controlPlane = await startControlPlane(config, { logger });
  } catch (err) {
    process.stderr.write(`control-plane: ${isMeshError(err) ? `${err.code}: ` : ''}${errorMessage(err)}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) {
      logger.warn('second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    void controlPlane.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();
