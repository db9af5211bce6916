import { closeSync, existsSync, openSync } from 'node:fs';
import { ErrorCode, createLogger, errorMessage, isMeshError, type Logger } from '@ambient/core';
import {
  ZDS_SOCKET_PATH,
  ZdsServer,
  installInpodRules,
  removeInpodRules,
  type InpodInstallOptions,
} from '@ambient/redirect';
import { podLabel, workloadInfoOf, type MeshPod } from './pod.js';

/** istio-cni tries again this often to hand ztunnel a pod it could not start. */
export const ADD_RETRY_INTERVAL_MS = 5_000;

/**
 * What became of the Add a pod needs: ztunnel acked it; no ztunnel is connected (the pod goes in
 * the snapshot of the next one that connects); or ztunnel refused it (retried every 5 s).
 */
export type PodAddResult = 'acked' | 'no-ztunnel' | 'rejected';

export interface NodeAgentOptions {
  /** Where ztunnel connects; default `/var/run/ztunnel/ztunnel.sock`. Its folder must exist. */
  readonly socketPath?: string;
  readonly logger?: Logger;
  /** Default 5 s, istio-cni's; tests shorten it. */
  readonly retryIntervalMs?: number;
  /** Passed to installInpodRules/removeInpodRules (iptables backend, IPv6). */
  readonly rules?: InpodInstallOptions;
  /** How long ztunnel may take to ack; default the ZDS server's 5 s. */
  readonly ackTimeoutMs?: number;
}

/**
 * Our stand-in for istio-cni's node agent: for each pod it captures, it installs the in-pod
 * redirection in the pod's network namespace and tells ztunnel over ZDS (Add with a fresh fd of
 * that namespace); a pod removed loses its rules and ztunnel is told (Del). Every ztunnel that
 * (re)connects gets the whole set (Add for each pod, then SnapshotSent). A refused Add is tried
 * again every 5 s until ztunnel takes it or the pod goes.
 *
 * Pod changes run one at a time, in call order. Closing leaves every pod's rules in place, as
 * istio-cni does on restart: captured traffic keeps flowing to ztunnel meanwhile.
 */
export class NodeAgent {
  readonly socketPath: string;
  private readonly pods = new Map<string, MeshPod>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly logger: Logger;
  private readonly retryIntervalMs: number;
  private readonly rules: InpodInstallOptions;
  private readonly server: ZdsServer;
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;

  private constructor(options: NodeAgentOptions) {
    this.socketPath = options.socketPath ?? ZDS_SOCKET_PATH;
    this.logger = options.logger ?? createLogger({ level: 'silent' });
    this.retryIntervalMs = options.retryIntervalMs ?? ADD_RETRY_INTERVAL_MS;
    this.rules = options.rules ?? {};
    this.server = ZdsServer.listen({
      path: this.socketPath,
      logger: this.logger,
      snapshot: () => this.sendSnapshot(),
      ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
    });
    this.logger.info({ socket: this.socketPath }, 'node agent listening for ztunnel');
  }

  /** Listens on the ZDS socket (replacing a stale socket file) with no pods yet. */
  static start(options: NodeAgentOptions = {}): NodeAgent {
    return new NodeAgent(options);
  }

  /** The pods whose rules are installed, in the order they were added. */
  get enrolled(): readonly MeshPod[] {
    return [...this.pods.values()];
  }

  /** Connected ztunnels (two while one replaces another). */
  get connectedZtunnels(): number {
    return this.server.connectionCount;
  }

  /** Uids of pods ztunnel refused, waiting for their next try. */
  get pendingRetries(): readonly string[] {
    return [...this.retries.keys()];
  }

  /** Resolves once a connected ztunnel has acked a whole snapshot. */
  ready(): Promise<void> {
    return this.server.ready();
  }

  /**
   * Captures a pod: installs the in-pod rules in its namespace (again, if it is known: installing
   * is idempotent), then sends ztunnel the Add. Rejects with MESH_ERR_REDIRECT_RULES_FAILED when
   * the rules cannot be installed; the pod is then not captured (as the CNI plugin fails the pod).
   */
  addPod(pod: MeshPod): Promise<PodAddResult> {
    return this.serialize(async () => {
      this.assertOpen();
      await installInpodRules(pod.netnsPath, this.rules);
      this.pods.set(pod.uid, pod);
      this.cancelRetry(pod.uid);
      this.logger.info({ uid: pod.uid, pod: podLabel(pod), netns: pod.netnsPath }, 'pod captured');
      return this.sendAdd(pod);
    });
  }

  /**
   * Releases a pod: removes its rules (unless its namespace is already gone, taking them along),
   * then tells every connected ztunnel (Del), in istio-cni's order: nothing new is captured into a
   * proxy that is draining. False when the pod was not known. A ztunnel that fails to ack the Del
   * is only logged: the snapshot it gets on reconnection no longer names the pod.
   */
  removePod(uid: string): Promise<boolean> {
    return this.serialize(async () => {
      const pod = this.pods.get(uid);
      if (pod === undefined) return false;
      this.pods.delete(uid);
      this.cancelRetry(uid);
      let rulesError: Error | undefined;
      if (existsSync(pod.netnsPath)) {
        try {
          await removeInpodRules(pod.netnsPath, this.rules);
        } catch (err) {
          rulesError = err instanceof Error ? err : new Error(String(err));
        }
      }
      try {
        await this.server.del(uid);
        this.logger.info({ uid, pod: podLabel(pod) }, 'pod released');
      } catch (err) {
        this.logger.warn({ uid, pod: podLabel(pod), err: errorMessage(err) }, 'ztunnel did not ack the Del');
      }
      if (rulesError !== undefined) throw rulesError;
      return true;
    });
  }

  /** Stops retries, waits for the change under way, drops every ztunnel and removes the socket. */
  async close(): Promise<void> {
    this.closing = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
    await this.queue;
    this.server.close();
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('the node agent is closed');
  }

  /**
   * The snapshot for a ztunnel that just connected, sent as our own Adds: all are queued on the
   * new connection before this returns (the ZDS server makes it the latest one just before asking),
   * so SnapshotSent follows them, and each Ack comes back to us to retry a refusal.
   */
  private async sendSnapshot(): Promise<[]> {
    const pods = [...this.pods.values()];
    this.logger.info({ pods: pods.length }, 'ztunnel connected: sending the snapshot');
    await Promise.all(pods.map((pod) => this.sendAdd(pod)));
    return [];
  }

  /** One Add with a fresh fd of the pod's namespace, closed once ztunnel has answered. Never rejects. */
  private async sendAdd(pod: MeshPod): Promise<PodAddResult> {
    const fields = { uid: pod.uid, pod: podLabel(pod) };
    if (this.server.connectionCount === 0) {
      this.logger.info(fields, 'no ztunnel connected: the pod goes in the next snapshot');
      return 'no-ztunnel';
    }
    let fd: number | undefined;
    try {
      fd = openSync(pod.netnsPath, 'r');
      await this.server.add(pod.uid, workloadInfoOf(pod), fd);
      this.cancelRetry(pod.uid);
      this.logger.info(fields, 'ztunnel acked the pod');
      return 'acked';
    } catch (err) {
      if (isMeshError(err, ErrorCode.ZdsUnavailable)) {
        this.logger.info(
          { ...fields, err: errorMessage(err) },
          'ztunnel left: the pod goes in the next snapshot',
        );
        return 'no-ztunnel';
      }
      this.logger.warn(
        { ...fields, err: errorMessage(err), retryInMs: this.retryIntervalMs },
        'ztunnel did not take the pod; retrying',
      );
      this.scheduleRetry(pod.uid);
      return 'rejected';
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  private scheduleRetry(uid: string): void {
    if (this.closing || this.retries.has(uid)) return;
    const timer = setTimeout(() => {
      this.retries.delete(uid);
      this.serialize(() => this.retry(uid)).catch((err: unknown) => {
        this.logger.error({ uid, err: errorMessage(err) }, 'retrying a pod failed');
      });
    }, this.retryIntervalMs);
    this.retries.set(uid, timer);
  }

  private async retry(uid: string): Promise<void> {
    const pod = this.pods.get(uid);
    if (pod === undefined || this.closing) return;
    this.logger.info({ uid, pod: podLabel(pod) }, 'sending the pod to ztunnel again');
    await this.sendAdd(pod);
  }

  private cancelRetry(uid: string): void {
    const timer = this.retries.get(uid);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.retries.delete(uid);
  }
}
