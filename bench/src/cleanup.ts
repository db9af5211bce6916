import { once } from 'node:events';
import { rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

/*
 * The bench's last line of defence: whatever path it leaves by (an exception past every finally,
 * Ctrl-C, a kill), no child process and no temp dir outlives it. The orderly path still stops
 * children with SIGTERM first (so a CPU profile gets written); this only catches what is left.
 */

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();

process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
// Without handlers a signal ends the process without the 'exit' event, skipping the cleanup above.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping children and removing temp dirs\n`);
    process.exit(code);
  });
}

export function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

export function trackTempDir(dir: string): void {
  tempDirs.add(dir);
}

export function forgetTempDir(dir: string): void {
  tempDirs.delete(dir);
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM, then SIGKILL if the child has not exited after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (hasExited(child)) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
