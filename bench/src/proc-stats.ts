import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/*
 * What a proxy costs, read from the kernel's own accounting: resident memory from
 * /proc/<pid>/status and CPU time (user + system, every thread) from /proc/<pid>/stat.
 */

const MIB = 1024 * 1024;

/** Clock ticks per second of /proc/<pid>/stat's times; 100 on every Linux we run on. */
const CLOCK_TICKS_PER_SECOND = readClockTicks();

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** VmRSS of a /proc/<pid>/status text, in bytes. */
export function parseRssBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match?.[1] === undefined) throw new Error('no VmRSS line in /proc/<pid>/status');
  return Number(match[1]) * 1024;
}

/** utime + stime of a /proc/<pid>/stat line, in clock ticks. */
export function parseCpuTicks(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5); fields[0] here is field 3.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new Error(`unexpected /proc/<pid>/stat: ${stat}`);
  return utime + stime;
}

export function rssMiB(pid: number): number {
  return parseRssBytes(readFileSync(`/proc/${String(pid)}/status`, 'utf8')) / MIB;
}

/** CPU seconds (user + system, all threads) the process has used so far. */
export function cpuSeconds(pid: number): number {
  return parseCpuTicks(readFileSync(`/proc/${String(pid)}/stat`, 'utf8')) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds several processes used while `work` ran. */
export async function cpuSecondsDuring<T>(
  pids: readonly number[],
  work: () => Promise<T>,
): Promise<{ result: T; cpuSeconds: number[] }> {
  const before = pids.map(cpuSeconds);
  const result = await work();
  return { result, cpuSeconds: pids.map((pid, i) => cpuSeconds(pid) - (before[i] ?? 0)) };
}
