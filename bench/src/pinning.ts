import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { commandExists } from './debian-packages.js';

/*
 * Two cores, two roles: every proxy process of every path on one core, the load generator and the
 * app servers on the other. Each path then gets exactly the same CPU (one core for its proxies),
 * and a proxy never competes with the client that measures it. Children inherit the bench's core;
 * proxies are started through `taskset -c <proxy core>`.
 */

export interface CorePlan {
  /** Where proxies run; undefined when the machine has one core (or no taskset): nothing is pinned. */
  readonly proxyCore: number | undefined;
  readonly loadCore: number | undefined;
  /** One line for the report. */
  readonly description: string;
}

const LOAD_CORE = 0;
const PROXY_CORE = 1;

/** Pins this process (every thread) to the load core and returns the plan for the children. */
export function pinCores(): CorePlan {
  // Read before pinning: afterwards this process sees only its own core.
  const cores = availableParallelism();
  if (cores < 2 || !commandExists('taskset')) {
    return {
      proxyCore: undefined,
      loadCore: undefined,
      description: `not pinned (${String(cores)} core${cores === 1 ? '' : 's'}${commandExists('taskset') ? '' : ', no taskset'})`,
    };
  }
  execFileSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
  return {
    proxyCore: PROXY_CORE,
    loadCore: LOAD_CORE,
    description: `proxies on core ${String(PROXY_CORE)}, load generator and servers on core ${String(LOAD_CORE)} (taskset)`,
  };
}

/** The command line that runs `command` on the proxy core. */
export function onProxyCore(plan: CorePlan, command: string, args: readonly string[]): [string, string[]] {
  if (plan.proxyCore === undefined) return [command, [...args]];
  return ['taskset', ['-c', String(plan.proxyCore), command, ...args]];
}
