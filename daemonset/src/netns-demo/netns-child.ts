import { join } from 'node:path';
import type { NetnsCluster } from '@ambient/testing';
import type { LogLine } from '../local-mesh/log-feed.js';
import { LoggedChild, type ProcessExit } from '../local-mesh/logged-child.js';

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
 * A Node process of the demo inside one of the cluster's namespaces: the loopback demo's
 * LoggedChild, started with `ip netns exec` through the cluster (which puts it in its own process
 * group, so Ctrl-C reaches only the launcher, and kills whatever is left at destroy).
 */
export class NetnsChild extends LoggedChild {
  readonly logPath: string;
  readonly stderrPath: string;

  constructor(readonly netns: NetnsChildOptions) {
    const fileName = netns.name.replaceAll(' ', '-');
    const logPath = join(netns.logDir, `${fileName}.log`);
    const stderrPath = join(netns.logDir, `${fileName}.stderr.log`);
    super({
      script: netns.script,
      ...(netns.args === undefined ? {} : { args: netns.args }),
      env: netns.env,
      logPath,
      stderrPath,
      spawn: (command, args, options) =>
        netns.cluster.spawn(netns.netnsName, command, args, {
          ...(options.env === undefined ? {} : { env: options.env }),
          ...(options.stdio === undefined ? {} : { stdio: options.stdio }),
        }),
    });
    this.logPath = logPath;
    this.stderrPath = stderrPath;
  }

  get name(): string {
    return this.netns.name;
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

  /** `exit code 2: ztunnel: INPOD_UDS: ...`: how it ended and the start of what it said on stderr. */
  describeExit(exit: ProcessExit): Promise<string> {
    return this.describeEarlyExit(exit);
  }
}
