import { readFileSync, rmSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';

// Test files run in parallel processes with the same prefix, so `sweep` must tell a crashed run's
// leftovers from a live cluster of another process. Each cluster records its owner (pid and the
// process's start time, which a reused pid does not share) before it makes any namespace.
const OWNER_DIR = '/run/netns-cluster-owners';

function ownerPath(clusterId: string): string {
  return `${OWNER_DIR}/${clusterId}`;
}

/** Field 22 of /proc/<pid>/stat, in clock ticks since boot; undefined when the process is gone. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fieldsAfterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fieldsAfterName[22 - 3];
  } catch {
    return undefined;
  }
}

function currentOwner(): string {
  return `${process.pid} ${processStartTime(process.pid) ?? ''}`;
}

export async function recordOwner(clusterId: string): Promise<void> {
  await mkdir(OWNER_DIR, { recursive: true });
  await writeFile(ownerPath(clusterId), currentOwner());
}

/** False when the record is missing or unreadable, or its process has ended. */
export async function ownerIsAlive(clusterId: string): Promise<boolean> {
  let record: string;
  try {
    record = await readFile(ownerPath(clusterId), 'utf8');
  } catch {
    return false;
  }
  const [pidText, startTime] = record.trim().split(' ');
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || startTime === undefined) return false;
  return processStartTime(pid) === startTime;
}

/** Cluster ids that have an owner record, alive or not. */
export async function recordedClusterIds(): Promise<string[]> {
  try {
    return await readdir(OWNER_DIR);
  } catch {
    return [];
  }
}

export async function removeOwner(clusterId: string): Promise<void> {
  await rm(ownerPath(clusterId), { force: true });
}

export function removeOwnerSync(clusterId: string): void {
  try {
    rmSync(ownerPath(clusterId), { force: true });
  } catch {
    // Best effort at exit: sweep removes records whose process is gone.
  }
}
