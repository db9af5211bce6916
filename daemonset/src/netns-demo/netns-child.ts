import type { ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { NetnsCluster } from '@ambient/testing';
import { LogFeed, type LogLine } from '../local-mesh/log-feed.js';
import { describeExit, type ProcessExit } from '../local-mesh/logged-child.js';

/** How much of a failed child's stderr goes into a message: its first complaint, not a stack. */
const STDERR_EXCERPT_CHARS = 400;

export interface NetnsChildOptions {
  readonly cluster: NetnsCluster;
  /** The cluster namespace it runs in (`ip netns exec`). */
  readonly netnsName: string;
  /** `ztunnel node-a`, `node agent node-b`, `app sleep`: for messages and the log file names. */
  readonly name: string;
  /** The Node script, run with this launcher's own Node. */
  readonly script: string;
  readonly args?: readonly string[];
  /** The child's whole environment. */
  readonly env: Readonly<Record<string, string>>;
  /** `<name>.log` (stdout, NDJSON) and `<name>.stderr.log` go here. */
  readonly logDir: string;
}

/**
 * A Node process of the demo inside one of the cluster's namespaces, its NDJSON stdout parsed
 * into a feed and kept in a file, its stderr in another. It leads its own process group (the
 * cluster's spawn), so Ctrl-C reaches only the launcher, which stops each child once; the
 * cluster's destroy kills whatever is left.
 */
export class NetnsChild {
  readonly logs = new LogFeed();
  readonly logPath: string;
  readonly stderrPath: string;
  /** Settles when the process has exited, however that happened. */
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | undefined;
  private readonly child: ChildProcess;
  private readonly logFile: WriteStream;

  constructor(readonly options: NetnsChildOptions) {
    const fileName = options.name.replaceAll(' ', '-');
    this.logPath = join(options.logDir, `${fileName}.log`);
    this.stderrPath = join(options.logDir, `${fileName}.stderr.log`);
    this.logFile = createWriteStream(this.logPath);
    const stderrFd = openSync(this.stderrPath, 'a');
    this.child = options.cluster.spawn(
      options.netnsName,
      process.execPath,
      [options.script, ...(options.args ?? [])],
      {
        env: { ...options.env },
        stdio: ['ignore', 'pipe', stderrFd],
      },
    );
    closeSync(stderrFd);
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': by then stdout is read to its end, so no log line is lost.
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.once('error', () => {
        this.exit = { code: null, signal: null };
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

  get name(): string {
    return this.options.name;
  }

  get exitStatus(): ProcessExit | undefined {
    return this.exit;
  }

  /**
   * The first log line (from the start) that matches, or a failure: the process exited first (with
   * the start of its stderr), or nothing matched within `timeoutMs`.
   */
  async waitForLog(matches: (line: LogLine) => boolean, what: string, timeoutMs: number): Promise<LogLine> {
    const logged = this.logs.waitFor(0, matches, timeoutMs).then((line) => ({ kind: 'log' as const, line }));
    const exited = this.exited.then((exit) => ({ kind: 'exit' as const, exit }));
    const outcome = await Promise.race([logged, exited]);
    if (outcome.kind === 'exit') {
      throw new Error(`${this.name} exited before "${what}" (${await this.describeExit(outcome.exit)})`);
    }
    if (outcome.line === undefined)
      throw new Error(`${this.name}: no "${what}" within ${String(timeoutMs)} ms`);
    return outcome.line;
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

  /** `exit code 2: ztunnel: INPOD_UDS: ...`: how it ended and the start of what it said on stderr. */
  async describeExit(exit: ProcessExit): Promise<string> {
    const stderr = (await readFile(this.stderrPath, 'utf8').catch(() => '')).trim();
    if (stderr === '') return describeExit(exit);
    const excerpt =
      stderr.length > STDERR_EXCERPT_CHARS ? `${stderr.slice(0, STDERR_EXCERPT_CHARS)}…` : stderr;
    return `${describeExit(exit)}: ${excerpt}`;
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }
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
