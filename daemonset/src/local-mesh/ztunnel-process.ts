import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, openSync, closeSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LogFeed, type LogLine } from './log-feed.js';

/** The ztunnel binary built beside this launcher (daemonset/dist/main.js). */
const ZTUNNEL_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
const READINESS_PORT = 15021;
const READINESS_POLL_MS = 100;

export interface ZtunnelProcessOptions {
  readonly node: string;
  readonly instanceIp: string;
  readonly configPath: string;
  readonly certsDir: string;
  /** Where `<node>.log` (stdout, NDJSON) and `<node>.stderr.log` go. */
  readonly logDir: string;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One ztunnel as a child process, its NDJSON stdout kept in a file and parsed into a feed. */
export class ZtunnelProcess {
  readonly logs = new LogFeed();
  readonly logPath: string;
  readonly stderrPath: string;
  /** Settles when the process has exited, however that happened. */
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | undefined;
  private readonly child: ChildProcess;
  private readonly logFile: WriteStream;

  private constructor(readonly options: ZtunnelProcessOptions) {
    this.logPath = join(options.logDir, `${options.node}.log`);
    this.stderrPath = join(options.logDir, `${options.node}.stderr.log`);
    this.logFile = createWriteStream(this.logPath);
    const stderrFd = openSync(this.stderrPath, 'a');
    this.child = spawn(process.execPath, [ZTUNNEL_MAIN], {
      env: {
        // Only what Node needs: an operator's ADMIN_PORT or the like must not leak into the demo.
        PATH: process.env.PATH ?? '',
        NODE_NAME: options.node,
        INSTANCE_IP: options.instanceIp,
        LOCAL_XDS_PATH: options.configPath,
        WORKLOAD_CERTS_DIR: options.certsDir,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', stderrFd],
      // Its own process group: Ctrl-C in the terminal reaches only the launcher, which then stops
      // each ztunnel exactly once (a second signal makes a ztunnel exit 1 without draining).
      detached: true,
    });
    closeSync(stderrFd);
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': by then stdout is read to its end, so no log line is lost.
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal };
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

  static start(options: ZtunnelProcessOptions): ZtunnelProcess {
    return new ZtunnelProcess(options);
  }

  get node(): string {
    return this.options.node;
  }

  get instanceIp(): string {
    return this.options.instanceIp;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Polls `/healthz/ready` until it answers 200; fails early if the process exits. */
  async waitReady(timeoutMs: number): Promise<void> {
    const url = `http://${this.instanceIp}:${String(READINESS_PORT)}/healthz/ready`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exit !== undefined) {
        throw new Error(`ztunnel ${this.node} exited during startup (${describeExit(this.exit)})`);
      }
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(READINESS_POLL_MS * 10) });
        if (response.status === 200) return;
        await response.body?.cancel();
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline)
        throw new Error(`ztunnel ${this.node} was not ready within ${String(timeoutMs)} ms`);
      await sleep(READINESS_POLL_MS);
    }
  }

  /** SIGTERM (the ztunnel drains), then SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs: number): Promise<ProcessExit & { readonly killed: boolean }> {
    if (this.exit === undefined) this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => {
        resolve('late');
      }, timeoutMs);
    });
    const outcome = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    let killed = false;
    if (outcome === 'late') {
      killed = true;
      this.child.kill('SIGKILL');
    }
    const exit = await this.exited;
    await new Promise<void>((resolve) => this.logFile.end(resolve));
    return { ...exit, killed };
  }

  /** Last resort on the way out (the launcher's own exit): no drain, no waiting. */
  killNow(): void {
    if (this.exit === undefined) this.child.kill('SIGKILL');
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
