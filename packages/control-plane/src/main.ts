import { createLogger, errorMessage, isMeshError, logUncaughtErrors, stopOnSignals } from '@ambient/core';
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
  logUncaughtErrors(logger);

  let controlPlane: ControlPlane;
  try {
    controlPlane = await startControlPlane(config, { logger });
  } catch (err) {
    process.stderr.write(`control-plane: ${isMeshError(err) ? `${err.code}: ` : ''}${errorMessage(err)}\n`);
    process.exit(1);
  }
  stopOnSignals(logger, () => controlPlane.close());
}

await main();
