import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { hasExited, stopChild, trackChild } from './cleanup.js';

/*
 * Starting the bench's helper processes (proxies, nginx) the same way: output to a log file, tracked
 * for cleanup, ready once their port accepts a connection, stopped with SIGTERM then SIGKILL.
 */

const LISTEN_POLL_INTERVAL_MS = 50;
const LISTEN_POLL_ATTEMPTS = 200;
const DEFAULT_STOP_GRACE_MS = 5_000;

export interface LoggedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logPath: string;
  stop(): Promise<void>;
}

export function spawnLogged(
  command: string,
  args: readonly string[],
  logPath: string,
  env: Readonly<Record<string, string>> = {},
  stopGraceMs = DEFAULT_STOP_GRACE_MS,
): LoggedProcess {
  const log = openSync(logPath, 'w');
  try {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
    trackChild(child);
    if (child.pid === undefined) throw new Error(`could not start ${command} (see ${logPath})`);
    return { child, pid: child.pid, logPath, stop: () => stopChild(child, stopGraceMs) };
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(log);
  }
}

/** Resolves once `host:port` accepts a TCP connection; rejects if the process exits first or never listens. */
export async function waitListening(process: LoggedProcess, host: string, port: number): Promise<void> {
  for (let attempt = 0; attempt < LISTEN_POLL_ATTEMPTS; attempt++) {
    if (hasExited(process.child)) {
      throw new Error(`exited during startup: ${lastLines(process.logPath)}\n(log: ${process.logPath})`);
    }
    if (await accepts(host, port)) return;
    await new Promise((resolve) => setTimeout(resolve, LISTEN_POLL_INTERVAL_MS));
  }
  throw new Error(`nothing listening on ${host}:${String(port)}; see ${process.logPath}`);
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/** A process's last words: on a startup failure, the reason it printed before exiting. */
export function lastLines(path: string, count = 3): string {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  return lines.slice(-count).join('\n') || '(empty log)';
}
