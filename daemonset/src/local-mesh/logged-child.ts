import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { LogFeed, type LogLine } from './log-feed.js';

/** How much of a failed child's stderr goes into the launcher's message: its first complaint, not a stack. */
const STDERR_EXCERPT_CHARS = 400;

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Starts the process: a plain spawn by default, `ip netns exec` for the netns demo. */
export type ChildSpawner = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface LoggedChildOptions {
  /** The Node script to run with this launcher's own Node. */
  readonly script: string;
  readonly args?: readonly string[];
  /** The child's whole environment. */
  readonly env: Readonly<Record<string, string>>;
  /** `<logPath>`: stdout, NDJSON, as it came; `<stderrPath>`: stderr. */
  readonly logPath: string;
  readonly stderrPath: string;
  readonly spawn?: ChildSpawner;
}

/**
 * A Node child process of the launcher (a ztunnel, the CA) whose NDJSON stdout is kept in a file
 * and parsed into a feed, and whose stderr goes to a file of its own.
 */
export class LoggedChild {
  readonly logs = new LogFeed();
  /** Settles when the process has exited, however that happened. */
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | undefined;
  private readonly child: ChildProcess;
  private readonly logFile: WriteStream;

  constructor(readonly options: LoggedChildOptions) {
    this.logFile = createWriteStream(options.logPath);
    const stderrFd = openSync(options.stderrPath, 'a');
    this.child = (options.spawn ?? spawn)(process.execPath, [options.script, ...(options.args ?? [])], {
      env: { ...options.env },
      stdio: ['ignore', 'pipe', stderrFd],
      // Its own process group: Ctrl-C in the terminal reaches only the launcher, which then stops
      // each child exactly once (a second signal makes a ztunnel or the CA exit 1 at once).
      detached: true,
    });
    closeSync(stderrFd);
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': by then stdout is read to its end, so no log line is lost.
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      // Could not be started at all: there will be no 'close'.
      this.child.once('error', () => {
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
    });
    const stdout = this.child.stdout;
    if (stdout) {
      createInterface({ input: stdout, crlfDelay: Infinity }).on('line', (text) => {
        this.logFile.write(`${text}\n`);
        this.logs.push(parseLine(text));
      });
    }
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** How it ended, once it has. */
  get exitStatus(): ProcessExit | undefined {
    return this.exit;
  }

  /** SIGTERM (it shuts down cleanly), then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs: number): Promise<ProcessExit & { readonly killed: boolean }> {
    if (this.exit === undefined) this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => {
        resolve('late');
      }, timeoutMs);
    });
    const outcome = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    const killed = outcome === 'late';
    if (killed) this.signal('SIGKILL');
    const exit = await this.exited;
    await new Promise<void>((resolve) => this.logFile.end(resolve));
    return { ...exit, killed };
  }

  /** Last resort on the way out (the launcher's own exit): no clean shutdown, no waiting. */
  killNow(): void {
    if (this.exit === undefined) this.signal('SIGKILL');
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /** `exit code 2: control-plane: CA_TOKENS_FILE: ...`: how it ended and the start of what it said on stderr. */
  async describeEarlyExit(exit: ProcessExit): Promise<string> {
    const stderr = (await readFile(this.options.stderrPath, 'utf8').catch(() => '')).trim();
    if (stderr === '') return describeExit(exit);
    const excerpt =
      stderr.length > STDERR_EXCERPT_CHARS ? `${stderr.slice(0, STDERR_EXCERPT_CHARS)}…` : stderr;
    return `${describeExit(exit)}: ${excerpt}`;
  }
}

export function describeExit(exit: ProcessExit): string {
  return exit.signal === null ? `exit code ${String(exit.code)}` : `killed by ${exit.signal}`;
}

function parseLine(text: string): LogLine {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as LogLine;
  } catch {
    // Not JSON: keep it as a message.
  }
  return { message: text };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
