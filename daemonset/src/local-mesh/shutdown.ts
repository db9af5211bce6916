import type { CheckLine } from './checks.js';
import type { LocalMesh, StopResult } from './local-mesh.js';
import { describeExit } from './logged-child.js';
import { print } from './report.js';

/**
 * A child asked to stop must finish by itself and exit 0, as it would for the kubelet: a ztunnel
 * drains its connections, the control plane its in-flight requests.
 */
export function checkCleanExit(result: StopResult): CheckLine {
  const ok = !result.killed && result.code === 0 && result.signal === null;
  const how = result.killed ? 'had to be killed' : `ended with ${describeExit(result)}`;
  const who = result.role === 'ztunnel' ? `${result.name}: ztunnel` : result.name;
  const clean = result.role === 'ztunnel' ? 'drained and exited 0' : 'exited 0';
  const text = ok ? `${who} ${clean} on SIGTERM` : `${who} ${how} after SIGTERM`;
  return { kind: 'shutdown', ok, text, count: 1 };
}

/** After a failure: the logs stay for reading; a dir with nothing to read goes. */
export async function keepLogsOrClean(mesh: LocalMesh): Promise<void> {
  if (mesh.logPairs.length === 0) await mesh.removeDir();
  else printLogLocation(mesh);
}

export function printLogLocation(mesh: LocalMesh): void {
  const pairs = mesh.logPairs;
  if (mesh.dir === undefined || pairs.length === 0) return;
  print(`logs kept in ${mesh.dir}:`);
  for (const [log, stderr] of pairs) print(`  ${log}  ${stderr}`);
}
