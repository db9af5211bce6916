import {
  CHANGE,
  CONNECT,
  ERROR,
  ListWatch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { Backoff, ErrorCode, MeshError, errorMessage, type Logger } from '@ambient/core';
import { kindLabel, type WatchedKind } from './kubernetes-kinds.js';
import { kubeReason, kubeStatusOf, listKind } from './kubernetes-list.js';
import { ClosableWatch } from './kubernetes-watch.js';
import type { KubeObject } from './source.js';

export interface KindWatcherOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Any add, update or delete of this kind's objects (the source debounces). */
  readonly onChange: () => void;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly missingKindRetryMs: number;
}

/**
 * One kind, listed and watched cluster-wide by client-node's ListWatch, which keeps the objects,
 * resumes a dropped watch from its last resourceVersion and relists after 410 Gone (dropping what
 * vanished meanwhile). What ListWatch leaves to its user is done here: it gives up on any other
 * error, so this restarts it with backoff (the objects stay meanwhile, and the restart resumes
 * from the last resourceVersion); a custom kind whose API is missing (404) counts as empty and is
 * looked for again now and then.
 */
export class KindWatcher {
  private readonly informer: ListWatch<KubernetesObject>;
  private readonly watch: ClosableWatch;
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly sleepers = new Set<() => void>();
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private starting = false;
  private listed = false;
  private missing = false;
  private startFailure: { readonly error: unknown } | undefined;

  constructor(
    readonly kind: WatchedKind,
    private readonly options: KindWatcherOptions,
  ) {
    this.log = options.logger.child({ kind: kindLabel(kind) });
    this.backoff = new Backoff(options.retryInitialMs, options.retryMaxMs);
    this.watch = new ClosableWatch(options.kubeConfig, (problem) => {
      this.log.warn({ reason: problem }, 'kubernetes watch event ignored');
    });
    this.informer = new ListWatch(kind.path, this.watch, () => this.list(), false, undefined, undefined, {
      delayFn: (ms) => this.sleep(ms),
    });
    this.informer.on(CHANGE, () => {
      this.changed();
    });
    this.informer.on(ERROR, (err?: unknown) => {
      this.guard('failure handling', () => {
        this.failed(err);
      });
    });
    this.informer.on(CONNECT, () => {
      this.guard('connect logging', () => {
        this.log.debug('kubernetes watch connecting');
      });
    });
  }

  /**
   * Resolves after the first list (or on finding the kind's API missing); throws MeshError
   * (KubeApiFailed) if the first list fails otherwise: the source cannot start without it.
   */
  async start(): Promise<void> {
    this.starting = true;
    try {
      await this.track(this.informer.start());
    } catch (err) {
      this.startFailure ??= { error: err };
    } finally {
      this.starting = false;
    }
    if (this.startFailure !== undefined && !this.listed && !this.missing) {
      const { error } = this.startFailure;
      throw new MeshError(
        ErrorCode.KubeApiFailed,
        `cannot list ${kindLabel(this.kind)} (${this.kind.path}): ${kubeReason(error)}`,
        { cause: error },
      );
    }
  }

  /** The objects as last known, by namespace and name; none while the kind's API is missing. */
  objects(): readonly KubeObject[] {
    if (this.missing) return [];
    return this.informer
      .list()
      .map((object) => asKubeObject(object, this.kind))
      .sort(
        (a, b) =>
          compare(a.metadata.namespace ?? '', b.metadata.namespace ?? '') ||
          compare(a.metadata.name ?? '', b.metadata.name ?? ''),
      );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.restartTimer);
    for (const wake of [...this.sleepers]) wake();
    this.abort.abort();
    await this.informer.stop();
    await this.watch.close();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async list(): Promise<KubernetesListObject<KubernetesObject>> {
    if (this.closed) throw new Error('closed');
    const list = await this.track(listKind(this.options.kubeConfig, this.kind, this.abort.signal));
    this.listed = true;
    this.backoff.reset();
    if (this.missing) {
      this.missing = false;
      this.log.info('kubernetes API for this kind is now served');
      // The cache may hold the same objects as before, so no add or update would say so.
      this.changed();
    }
    return list;
  }

  private failed(err: unknown): void {
    if (this.closed) return;
    const status = kubeStatusOf(err);
    if (status === 404 && this.kind.custom) {
      if (!this.missing) {
        this.missing = true;
        this.log.warn(
          { reason: kubeReason(err), retryInMs: this.options.missingKindRetryMs },
          'kubernetes API for this kind not served (CRD not installed?); treated as empty',
        );
        if (this.informer.list().length > 0) this.changed();
      }
      this.scheduleRestart(this.options.missingKindRetryMs);
      return;
    }
    if (this.starting && !this.listed) {
      // start() reports it: without a first list the source has nothing to stand on.
      this.startFailure ??= { error: err };
      return;
    }
    const retryInMs = this.backoff.next();
    this.log.warn(
      { reason: kubeReason(err), status, retryInMs },
      'kubernetes list/watch failed; last known objects kept, retrying',
    );
    this.scheduleRestart(retryInMs);
  }

  private scheduleRestart(delayMs: number): void {
    if (this.closed || this.restartTimer !== undefined) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.closed) return;
      // ListWatch resumes from its last resourceVersion, or lists if it never had one.
      void this.track(
        this.informer.start().catch((err: unknown) => {
          this.guard('failure handling', () => {
            this.failed(err);
          });
        }),
      );
    }, delayMs);
  }

  private changed(): void {
    if (this.closed) return;
    // Events flow again: the next failure starts its backoff afresh.
    this.backoff.reset();
    this.guard('change handling', () => {
      this.options.onChange();
    });
  }

  /** ListWatch's reconnect delay, cut short by close() so that nothing waits on a closed watcher. */
  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = (): void => {
      this.inFlight.delete(promise);
    };
    promise.then(forget, forget);
    return promise;
  }

  /** Callbacks run inside client-node's stream handlers: a throw there would stall the watch. */
  private guard(what: string, callback: () => void): void {
    try {
      callback();
    } catch (err) {
      this.log.error({ reason: errorMessage(err) }, `kubernetes ${what} failed`);
    }
  }
}

/** Watch events carry apiVersion and kind; list items were given theirs by listKind. */
function asKubeObject(object: KubernetesObject, kind: WatchedKind): KubeObject {
  if (typeof object.apiVersion === 'string' && typeof object.kind === 'string') {
    return object as unknown as KubeObject;
  }
  return { ...object, apiVersion: kind.apiVersion, kind: kind.kind } as unknown as KubeObject;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
