import { Watch, type KubeConfig } from '@kubernetes/client-node';

type WatchArgs = Parameters<Watch['watch']>;

/**
 * client-node's Watch with the edges its ListWatch leaves open filed off:
 * - after `close()` no new watch request goes out, and one that was connecting while the
 *   informer stopped is aborted as soon as it connects (ListWatch cannot abort what it does not
 *   hold yet); `close()` also aborts every stream still open;
 * - a watch that cannot even start (kubeconfig or credential failure) reports through `done`
 *   instead of rejecting, because ListWatch's internal reconnects drop that promise;
 * - an event that is not an object with metadata is dropped rather than crash the cache;
 * - watches ask for bookmarks, so a quiet kind still learns fresh resourceVersions and a
 *   reconnect resumes instead of relisting.
 */
export class ClosableWatch extends Watch {
  private closed = false;
  private readonly connecting = new Set<Promise<unknown>>();
  private readonly open = new Set<AbortController>();

  constructor(
    config: KubeConfig,
    /** Told about what was dropped or failed, for the log. */
    private readonly report: (problem: string) => void,
  ) {
    super(config);
  }

  override async watch(...[path, queryParams, callback, done]: WatchArgs): Promise<AbortController> {
    if (this.closed) return abortedController();
    // Written by the callbacks below, which may run before or after the connect resolves.
    const request: { controller?: AbortController; finished: boolean } = { finished: false };
    const finish = (err: unknown): void => {
      request.finished = true;
      if (request.controller !== undefined) this.open.delete(request.controller);
      done(err);
    };
    // ListWatch's handler is async: what it throws would be an unhandled rejection.
    const handler = callback as (phase: string, object: unknown, event?: unknown) => unknown;
    const forward = (phase: string, object: unknown, event?: unknown): void => {
      if (!isRecord(object) || (phase !== 'ERROR' && !isRecord(object.metadata))) {
        this.report(`dropped a malformed ${phase} event`);
        return;
      }
      const handled = handler(phase, object, event);
      if (handled instanceof Promise) {
        handled.catch((err: unknown) => {
          this.report(`a ${phase} event failed: ${String(err)}`);
        });
      }
    };
    const connecting = super.watch(path, { ...queryParams, allowWatchBookmarks: true }, forward, finish);
    this.connecting.add(connecting);
    let controller: AbortController;
    try {
      controller = await connecting;
      request.controller = controller;
    } catch (err) {
      queueMicrotask(() => {
        finish(err);
      });
      return abortedController();
    } finally {
      this.connecting.delete(connecting);
    }
    if (this.isClosed()) controller.abort();
    else if (!request.finished) this.open.add(controller);
    return controller;
  }

  /** A method, not the field: the field's narrowing from before an `await` does not hold after it. */
  private isClosed(): boolean {
    return this.closed;
  }

  /** Stops new watches, aborts open ones, and waits for those still connecting. */
  async close(): Promise<void> {
    this.closed = true;
    for (const controller of this.open) controller.abort();
    this.open.clear();
    await Promise.allSettled([...this.connecting]);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function abortedController(): AbortController {
  const controller = new AbortController();
  controller.abort();
  return controller;
}
