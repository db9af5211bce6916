import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { errorMessage } from '@ambient/core';

/** `ip` and `sysctl` answer in milliseconds; one that hangs this long is stuck, not slow. */
export const SETUP_COMMAND_TIMEOUT_MS = 10_000;

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CollectOptions {
  timeoutMs: number;
  /** Written to stdin, which is then closed. */
  input?: string;
  /** How to end the process when it runs past the timeout. */
  kill: () => void;
}

/**
 * Resolves with the output and exit status of a process that runs to its end; rejects when it
 * cannot start or runs past `timeoutMs` (after killing it).
 */
export function collectOutput(
  child: ChildProcess,
  what: string,
  options: CollectOptions,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      options.kill();
      reject(new Error(`${what} did not finish within ${options.timeoutMs} ms (killed); stderr: ${stderr}`));
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${what} could not run: ${errorMessage(err)}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, signal });
    });
    if (child.stdin) {
      // A process that exits without reading its input must not fail the caller with EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
    }
  });
}

/** Runs a setup command; rejects with its stderr unless it exits 0. */
export async function runChecked(command: string, args: readonly string[], input?: string): Promise<string> {
  const child = spawn(command, args, { stdio: 'pipe' });
  const what = [command, ...args].join(' ');
  const result = await collectOutput(child, what, {
    timeoutMs: SETUP_COMMAND_TIMEOUT_MS,
    ...(input === undefined ? {} : { input }),
    kill: () => child.kill('SIGKILL'),
  });
  if (result.code !== 0) {
    const status = result.code === null ? `signal ${result.signal ?? '?'}` : `exit code ${result.code}`;
    throw new Error(`${what} failed (${status}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result.stdout;
}

/** Runs a whole `ip` batch script inside one namespace. */
export async function ipBatch(netnsName: string, script: string): Promise<void> {
  try {
    await runChecked('ip', ['-n', netnsName, '-batch', '-'], script);
  } catch (err) {
    throw new Error(`configuring netns ${netnsName} failed: ${errorMessage(err)}\nscript:\n${script}`, {
      cause: err,
    });
  }
}

export async function addNetns(name: string): Promise<void> {
  await runChecked('ip', ['netns', 'add', name]);
}

export async function deleteNetns(name: string): Promise<void> {
  await runChecked('ip', ['netns', 'delete', name]);
}

function parseNetnsList(output: string): string[] {
  // Lines are `name` or `name (id: N)`.
  return output
    .split('\n')
    .map((line) => line.trim().split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

export async function listNetns(): Promise<string[]> {
  return parseNetnsList(await runChecked('ip', ['netns', 'list']));
}

function parsePids(output: string): number[] {
  return output
    .split('\n')
    .map((line) => Number.parseInt(line.trim(), 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** Processes whose network namespace is this one (they keep it alive after `ip netns delete`). */
export async function netnsPids(name: string): Promise<number[]> {
  return parsePids(await runChecked('ip', ['netns', 'pids', name]));
}

/** SIGKILLs each process; one that is already gone is not an error. */
export function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/** Best effort, synchronous (for process exit): kill what runs in the namespace, then delete it. */
export function deleteNetnsSync(name: string): void {
  try {
    killPids(parsePids(execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', stdio: 'pipe' })));
  } catch {
    // The namespace may be gone already; deleting it below says the same.
  }
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  } catch {
    // Best effort at exit: the next run's sweep removes what is left.
  }
}

export function hostHasIpv6(): boolean {
  return existsSync('/proc/sys/net/ipv6');
}

/** Throws a clear message when namespaces cannot be built here; netns tests fail, never skip. */
export async function assertCanBuildNetns(): Promise<void> {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new Error(
      `NetnsCluster needs root to create network namespaces (running as uid ${uid ?? 'unknown'}); ` +
        'run the netns tests as root',
    );
  }
  try {
    await runChecked('ip', ['-V']);
  } catch (err) {
    throw new Error(`NetnsCluster needs the \`ip\` command from iproute2: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}
