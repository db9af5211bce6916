import { createLogger, errorMessage, type Logger } from '@ambient/core';
import type { HboneServer } from '@ambient/hbone';
import {
  closeFd,
  netnsInode,
  type FileIdentity,
  type WorkloadInfo,
  type ZdsWorkloadHandler,
} from '@ambient/redirect';
import type { PodProxyDump } from './pod-proxy.js';

/** What certificate rotation needs of an HBONE server. */
export type CertificateHolder = Pick<HboneServer, 'setCertificate'>;

/** What the manager needs of one pod's proxy (PodProxy; a fake in unit tests). */
export interface InpodPod {
  readonly uid: string;
  readonly identity: string;
  readonly hboneServer: CertificateHolder | undefined;
  isSameNamespace(netns: FileIdentity): boolean;
  stopAccepting(): void;
  /** Stop accepting, let open connections finish until the deadline, then release everything. */
  drain(deadlineMs: number): Promise<void>;
  destroy(): void;
  dump(): PodProxyDump;
}

/** Starts a pod's proxy. Resolving takes ownership of `netnsFd`; rejecting must leave it open. */
export type PodStart = (uid: string, info: WorkloadInfo, netnsFd: number) => Promise<InpodPod>;

export interface InpodManagerOptions {
  readonly startPod: PodStart;
  /** How long a removed pod's open connections may take to finish. */
  readonly drainDeadlineMs: number;
  /**
   * Whether the ZDS connection is still sending its snapshot (the ZDS client is not synced yet).
   * Only Adds and Keeps of the snapshot decide which pods survive SnapshotSent; without this hook
   * every Add and Keep since the last SnapshotSent counts.
   */
  readonly inSnapshot?: () => boolean;
  readonly logger?: Logger;
}

/** `/config_dump`'s `inpod` section. */
export interface InpodDump {
  /** A ZDS snapshot has been received (readiness waits for the first). */
  readonly synced: boolean;
  readonly pods: readonly PodProxyDump[];
  /** Pods removed whose connections are still finishing. */
  readonly draining: readonly PodProxyDump[];
}

/**
 * ztunnel's side of in-pod mode: the ZDS handler that keeps one proxy per enrolled pod. An Add
 * starts the pod's proxy (the same namespace again changes nothing; another namespace for the
 * same uid replaces it), a Del drains it, and SnapshotSent drains every pod the node agent no
 * longer mentioned since it (re)connected, e.g. pods deleted while ztunnel was away.
 */
export class InpodManager implements ZdsWorkloadHandler {
  /** Resolves at the first SnapshotSent: every pod of the node is known from then on. */
  readonly firstSnapshot: Promise<void>;
  private readonly pods = new Map<string, InpodPod>();
  private readonly draining = new Set<InpodPod>();
  private readonly seenInSnapshot = new Set<string>();
  private readonly logger: Logger;
  private readonly inSnapshot: () => boolean;
  private resolveFirstSnapshot!: () => void;
  private synced = false;
  private stopped = false;

  constructor(private readonly options: InpodManagerOptions) {
    this.logger = options.logger ?? createLogger({ level: 'silent' });
    this.inSnapshot = options.inSnapshot ?? (() => true);
    this.firstSnapshot = new Promise((resolve) => {
      this.resolveFirstSnapshot = resolve;
    });
  }

  get size(): number {
    return this.pods.size;
  }

  async add(uid: string, info: WorkloadInfo, netnsFd: number): Promise<void> {
    if (this.stopped) throw new Error('ztunnel is shutting down');
    if (this.inSnapshot()) this.seenInSnapshot.add(uid);
    const netns = netnsInode(netnsFd);
    const existing = this.pods.get(uid);
    if (existing?.isSameNamespace(netns) === true) {
      // Ours to close: resolving takes the fd, and the running proxy holds its own.
      closeFd(netnsFd);
      this.logger.debug({ uid }, 'pod added again with the same network namespace: unchanged');
      return;
    }
    if (existing !== undefined) this.retire(existing, 'pod added again with another network namespace');
    const pod = await this.options.startPod(uid, info, netnsFd);
    if (this.isStopped()) {
      pod.destroy();
      throw new Error('ztunnel is shutting down');
    }
    this.pods.set(uid, pod);
    this.logger.info(
      { uid, workload: `${info.namespace}/${info.name}`, identity: pod.identity },
      'pod proxy started',
    );
  }

  keep(uid: string): void {
    if (this.inSnapshot()) this.seenInSnapshot.add(uid);
    if (!this.pods.has(uid)) this.logger.warn({ uid }, 'asked to keep a pod this ztunnel does not run');
  }

  del(uid: string): Promise<void> {
    const pod = this.pods.get(uid);
    if (pod === undefined) {
      this.logger.debug({ uid }, 'asked to remove a pod this ztunnel does not run');
      return Promise.resolve();
    }
    this.retire(pod, 'pod removed');
    return Promise.resolve();
  }

  snapshotSent(): Promise<void> {
    for (const [uid, pod] of this.pods) {
      if (!this.seenInSnapshot.has(uid)) this.retire(pod, 'pod not in the node agent snapshot');
    }
    this.seenInSnapshot.clear();
    if (!this.synced) {
      this.synced = true;
      this.resolveFirstSnapshot();
    }
    return Promise.resolve();
  }

  /** The HBONE servers presenting `identity`, for certificate rotation. */
  serversFor(identity: string): CertificateHolder[] {
    const servers: CertificateHolder[] = [];
    for (const pod of this.pods.values()) {
      if (pod.identity === identity && pod.hboneServer !== undefined) servers.push(pod.hboneServer);
    }
    return servers;
  }

  /** Shutdown, first step: no pod takes new connections; open ones carry on. */
  drain(): void {
    this.stopped = true;
    for (const pod of this.pods.values()) pod.stopAccepting();
  }

  /** Shutdown, last step: every pod's proxy closed now, namespaces released. */
  destroy(): void {
    this.stopped = true;
    for (const pod of [...this.pods.values(), ...this.draining]) pod.destroy();
    this.pods.clear();
    this.draining.clear();
  }

  dump(): InpodDump {
    return {
      synced: this.synced,
      pods: [...this.pods.values()].map((pod) => pod.dump()),
      draining: [...this.draining].map((pod) => pod.dump()),
    };
  }

  // A method, not the field: TypeScript would keep the field's narrowing across an await.
  private isStopped(): boolean {
    return this.stopped;
  }

  private retire(pod: InpodPod, why: string): void {
    this.pods.delete(pod.uid);
    this.draining.add(pod);
    this.logger.info({ uid: pod.uid, why }, 'draining pod proxy');
    void pod
      .drain(this.options.drainDeadlineMs)
      .catch((err: unknown) => {
        this.logger.error({ uid: pod.uid, error: errorMessage(err) }, 'draining a pod proxy failed');
        pod.destroy();
      })
      .finally(() => {
        this.draining.delete(pod);
      });
  }
}
