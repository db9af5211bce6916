import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createLogger, errorMessage } from '@ambient/core';
import { networkBatch, nodeBatch, nodeSysctls, podBatch } from './batches.js';
import {
  addNetns,
  assertCanBuildNetns,
  collectOutput,
  deleteNetns,
  deleteNetnsSync,
  hostHasIpv6,
  ipBatch,
  killPids,
  listNetns,
  netnsPids,
  runChecked,
  type CommandResult,
} from './commands.js';
import { ownerIsAlive, recordOwner, recordedClusterIds, removeOwner, removeOwnerSync } from './owner.js';
import {
  DEFAULT_NETNS_PREFIX,
  clusterIdPattern,
  clusterNetnsPattern,
  planCluster,
  type ClusterPlan,
  type NetnsClusterOptions,
  type NetnsNode,
  type NetnsPod,
} from './plan.js';

/** Long enough for a Node script to start and talk to a peer; short enough that a hang fails fast. */
export const DEFAULT_EXEC_TIMEOUT_MS = 10_000;
// SIGKILLed processes are gone within milliseconds; this only bounds a wait that should not happen.
const CHILD_EXIT_WAIT_MS = 2_000;

export type NetnsExecResult = CommandResult;

export interface NetnsExecOptions {
  /** The process is killed and the call rejects after this long. Default 10 s. */
  timeoutMs?: number;
  /** Written to stdin, which is then closed (stdin is closed at once without it). */
  input?: string;
  env?: NodeJS.ProcessEnv;
}

export interface NetnsSpawnOptions {
  /** Default `pipe`. */
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs fn on each item at once; when any failed, throws the first failure after all have settled. */
async function settleAll<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  const results = await Promise.allSettled(items.map(fn));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Kills the child and everything it started: spawned children lead their own process group. */
function killGroup(child: ChildProcess): void {
  if (!isRunning(child) || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, CHILD_EXIT_WAIT_MS);
    timer.unref();
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A Kubernetes-like cluster made of network namespaces: a network namespace with a bridge, a
 * namespace per node (where ztunnel runs) and one per pod, routed like a CNI would. Nothing is
 * attached to the host's namespace; `destroy` (or process exit) removes everything.
 */
export class NetnsCluster {
  /** `<prefix>-<random6>`: the start of every namespace name of this cluster. */
  readonly id: string;
  readonly prefix: string;
  /** Whether nodes and pods have IPv6 addresses (asked for and the kernel has IPv6). */
  readonly ipv6: boolean;
  /** The namespace holding the bridge; nothing runs there. */
  readonly networkNetnsName: string;
  readonly nodes: readonly NetnsNode[];
  /** Every pod of every node, node by node. */
  readonly pods: readonly NetnsPod[];
  /** Every namespace this cluster makes. */
  readonly namespaces: readonly string[];

  private readonly plan: ClusterPlan;
  /** Namespaces that exist now, in creation order. */
  private readonly created: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroying: Promise<void> | undefined;
  private readonly onExit = (): void => {
    this.cleanupSync();
  };

  private constructor(plan: ClusterPlan) {
    this.plan = plan;
    this.id = plan.id;
    this.prefix = plan.prefix;
    this.ipv6 = plan.ipv6;
    this.networkNetnsName = plan.networkNetnsName;
    this.nodes = plan.nodes;
    this.pods = plan.nodes.flatMap((node) => node.pods);
    this.namespaces = plan.namespaces;
  }

  /**
   * Builds the cluster, after sweeping leftovers of crashed runs with the same prefix. Throws
   * (never skips) when not root or `ip` is missing; a failed build removes what it made.
   */
  static async create(options: NetnsClusterOptions): Promise<NetnsCluster> {
    const wantsIpv6 = options.ipv6 ?? false;
    const plan = planCluster(options, undefined, wantsIpv6 && hostHasIpv6());
    await assertCanBuildNetns();
    await NetnsCluster.sweep(plan.prefix);
    const cluster = new NetnsCluster(plan);
    try {
      await cluster.build();
    } catch (err) {
      await cluster.destroy();
      throw new Error(`building netns cluster ${plan.id} failed: ${errorMessage(err)}`, { cause: err });
    }
    return cluster;
  }

  /**
   * Removes the namespaces (and what runs in them) of earlier clusters with this prefix whose
   * process has ended. Clusters of live processes, such as parallel test files, are left alone.
   * Returns the namespaces removed; throws when one of them could not be.
   */
  static async sweep(prefix: string = DEFAULT_NETNS_PREFIX): Promise<string[]> {
    const namePattern = clusterNetnsPattern(prefix);
    const idPattern = clusterIdPattern(prefix);
    const namespacesByCluster = new Map<string, string[]>();
    for (const name of await listNetns()) {
      const clusterId = namePattern.exec(name)?.[1];
      if (clusterId === undefined) continue;
      namespacesByCluster.set(clusterId, [...(namespacesByCluster.get(clusterId) ?? []), name]);
    }
    for (const clusterId of await recordedClusterIds()) {
      if (idPattern.test(clusterId) && !namespacesByCluster.has(clusterId))
        namespacesByCluster.set(clusterId, []);
    }

    const attempted: string[] = [];
    for (const [clusterId, names] of namespacesByCluster) {
      if (await ownerIsAlive(clusterId)) continue;
      for (const name of names) {
        attempted.push(name);
        // Either may fail because a parallel sweep got there first; the re-list below decides.
        await netnsPids(name).then(killPids, () => undefined);
        await deleteNetns(name).catch(() => undefined);
      }
      await removeOwner(clusterId);
    }
    const remaining = new Set(await listNetns());
    const stuck = attempted.filter((name) => remaining.has(name));
    if (stuck.length > 0) throw new Error(`netns sweep could not remove ${stuck.join(', ')}`);
    return attempted;
  }

  private async build(): Promise<void> {
    // Recorded before the first namespace exists, so a parallel sweep never takes ours for a leftover.
    await recordOwner(this.id);
    process.on('exit', this.onExit);
    // One at a time: the first `ip netns add` on a machine sets up the /var/run/netns mount, and
    // parallel ones could race on it. Each takes a few milliseconds.
    for (const name of this.namespaces) {
      await addNetns(name);
      this.created.push(name);
    }
    // Settled, not raced: a failed build is torn down only after no setup command still runs.
    await settleAll([() => this.enableForwarding(), () => this.wire()], (step) => step());
  }

  private async enableForwarding(): Promise<void> {
    await settleAll(this.nodes, (node) =>
      runChecked('ip', ['netns', 'exec', node.netnsName, 'sysctl', '-q', '-w', ...nodeSysctls(this.ipv6)]),
    );
  }

  /** Veths are made from the bridge outwards: each step configures the ends the previous one made. */
  private async wire(): Promise<void> {
    await ipBatch(this.networkNetnsName, networkBatch(this.plan));
    await settleAll(this.nodes, (node) => ipBatch(node.netnsName, nodeBatch(this.plan, node)));
    await settleAll(this.pods, (pod) => ipBatch(pod.netnsName, podBatch(this.plan, pod)));
  }

  /**
   * Starts `command` inside one of this cluster's namespaces (`ip netns exec`). The process and
   * everything it starts are killed at `destroy`.
   */
  spawn(
    netnsName: string,
    command: string,
    args: readonly string[] = [],
    options: NetnsSpawnOptions = {},
  ): ChildProcess {
    this.assertUsable(netnsName);
    const child = spawn('ip', ['netns', 'exec', netnsName, command, ...args], {
      stdio: options.stdio ?? 'pipe',
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      // Its own process group, so destroy can kill what it starts too.
      detached: true,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * Runs `command` to its end inside one of this cluster's namespaces. Resolves whatever the exit
   * code; rejects when it cannot start or runs past `timeoutMs` (it is killed then).
   */
  async exec(
    netnsName: string,
    command: string,
    args: readonly string[] = [],
    options: NetnsExecOptions = {},
  ): Promise<NetnsExecResult> {
    const child = this.spawn(netnsName, command, args, {
      stdio: 'pipe',
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    return await collectOutput(child, `${command} in netns ${netnsName}`, {
      timeoutMs: options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
      ...(options.input === undefined ? {} : { input: options.input }),
      kill: () => {
        killGroup(child);
      },
    });
  }

  /**
   * Kills every process in the cluster's namespaces and deletes the namespaces (which removes
   * their veths and the bridge). Idempotent; never throws: problems are logged.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  private assertUsable(netnsName: string): void {
    if (this.destroying) throw new Error(`netns cluster ${this.id} is destroyed`);
    if (!this.namespaces.includes(netnsName)) {
      throw new Error(`${netnsName} is not a namespace of netns cluster ${this.id}`);
    }
  }

  private async teardown(): Promise<void> {
    const problems: string[] = [];
    const children = [...this.children];
    for (const child of children) {
      try {
        killGroup(child);
      } catch (err) {
        problems.push(`killing pid ${child.pid ?? '?'}: ${errorMessage(err)}`);
      }
    }
    await Promise.all(children.map(waitForExit));

    const namespaces = this.created.splice(0).reverse();
    const results = await Promise.allSettled(
      namespaces.map(async (name) => {
        // Processes started some other way (or escaped their group) would keep the namespace alive.
        killPids(await netnsPids(name));
        await deleteNetns(name);
      }),
    );
    results.forEach((result, index) => {
      if (result.status === 'rejected')
        problems.push(`${namespaces[index] ?? '?'}: ${errorMessage(result.reason)}`);
    });
    try {
      await removeOwner(this.id);
    } catch (err) {
      problems.push(`owner record: ${errorMessage(err)}`);
    }
    process.off('exit', this.onExit);
    if (problems.length > 0) {
      createLogger({ base: { component: 'netns-cluster' } }).error(
        { cluster: this.id, problems },
        'netns cluster teardown left something behind; the next create sweeps it',
      );
    }
  }

  /** At process exit nothing asynchronous runs: best effort, synchronously. */
  private cleanupSync(): void {
    for (const child of this.children) {
      try {
        killGroup(child);
      } catch {
        // Best effort at exit.
      }
    }
    for (const name of this.created.splice(0).reverse()) deleteNetnsSync(name);
    removeOwnerSync(this.id);
  }
}
