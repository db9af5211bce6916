import type { CheckLine } from './checks.js';
import type { LocalMesh, StopResult } from './local-mesh.js';
import { print } from './report.js';
import { describeExit } from './ztunnel-process.js';

/** A ztunnel asked to stop must drain and exit 0 by itself, as it would for the kubelet. */
export function checkCleanExit(result: StopResult): CheckLine {
  const ok = !result.killed && result.code === 0 && result.signal === null;
  const how = result.killed ? 'had to be killed' : `ended with ${describeExit(result)}`;
  const text = ok
    ? `${result.node}: ztunnel drained and exited 0 on SIGTERM`
    : `${result.node}: ztunnel ${how} after SIGTERM`;
  return { kind: 'shutdown', ok, text, count: 1 };
}

/** After a failure: the ztunnel logs stay for reading; a dir with nothing to read goes. */
export async function keepLogsOrClean(mesh: LocalMesh): Promise<void> {
  if (mesh.ztunnels.size === 0) await mesh.removeDir();
  else printLogLocation(mesh);
}

export function printLogLocation(mesh: LocalMesh): void {
  if (mesh.dir === undefined || mesh.ztunnels.size === 0) return;
  print(`ztunnel logs kept in ${mesh.dir}:`);
  for (const ztunnel of mesh.ztunnels.values()) print(`  ${ztunnel.logPath}  ${ztunnel.stderrPath}`);
}
