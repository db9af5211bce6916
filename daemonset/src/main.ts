import { createLogger, errorMessage, isMeshError, logUncaughtErrors, stopOnSignals } from '@ambient/core';
import { startZtunnel, type Ztunnel } from './app.js';
import { parseConfig, type ZtunnelConfig } from './config.js';

/** The ztunnel binary: config from the environment, start, drain on SIGTERM/SIGINT or /quitquitquit. */
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
  logUncaughtErrors(logger);
  let ztunnel: Ztunnel | undefined;
  const stop = stopOnSignals(logger, () => ztunnel?.shutdown() ?? Promise.resolve());
  try {
    ztunnel = await startZtunnel(config, { logger, onQuitRequest: stop });
  } catch (err) {
    process.stderr.write(`ztunnel: ${isMeshError(err) ? `${err.code}: ` : ''}${errorMessage(err)}\n`);
    process.exit(1);
  }
}

await main();
