import { KubeConfig } from '@kubernetes/client-node';
import { ErrorCode, MeshError, errorMessage, type Logger } from '@ambient/core';
import { KindWatcher } from './kubernetes-kind-watcher.js';
import { WATCHED_KINDS, kindLabel } from './kubernetes-kinds.js';
import type { ConfigSource, SourceObject, SourceProblem } from './source.js';

/** istiod's PILOT_DEBOUNCE_AFTER: a burst of changes (a rollout) becomes one conversion. */
const DEFAULT_DEBOUNCE_MS = 100;
/** client-node's own reconnect delays, for the restarts it leaves to us. */
const DEFAULT_RETRY_INITIAL_MS = 1_000;
const DEFAULT_RETRY_MAX_MS = 30_000;
/** Installing Istio's CRDs after the control plane is rare: a minute's wait to notice is fine. */
const DEFAULT_MISSING_KIND_RETRY_MS = 60_000;

export interface KubernetesSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Changes within this window after the first reach `onChange` together. Default 100 ms. */
  readonly debounceMs?: number;
  /** Delay before restarting a failed list/watch, doubling up to `retryMaxMs`. Default 1 s / 30 s. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** How often a kind whose API is missing (CRD not installed: 404) is looked for again. Default 60 s. */
  readonly missingKindRetryMs?: number;
}

/**
 * The control plane's objects from the Kubernetes API: Namespaces, Pods, Services, ServiceEntries,
 * WorkloadEntries, AuthorizationPolicies, PeerAuthentications and Gateways, each listed and then
 * watched cluster-wide. `start` resolves once every kind has been listed and the first complete
 * set delivered; after that every change delivers the complete set again (debounced). Watches
 * that drop resume; a resourceVersion gone from the server's history (410) means a relist.
 */
export class KubernetesSource implements ConfigSource {
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private watchers: readonly KindWatcher[] = [];
  private onChange:
    ((objects: readonly SourceObject[], problems: readonly SourceProblem[]) => void) | undefined;
  private ready = false;
  private closed = false;
  private debounceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: KubernetesSourceOptions) {
    this.logger = options.logger.child({ source: 'kubernetes' });
    this.debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  }

  async start(
    onChange: (objects: readonly SourceObject[], problems: readonly SourceProblem[]) => void,
  ): Promise<void> {
    if (this.onChange !== undefined) throw new Error('KubernetesSource.start called twice');
    if (this.closed) throw new Error('KubernetesSource.start called after close');
    this.onChange = onChange;
    const { kubeConfig } = this.options;
    this.logger.info(
      { server: kubeConfig.getCurrentCluster()?.server },
      'listing and watching the Kubernetes API',
    );
    this.watchers = WATCHED_KINDS.map(
      (kind) =>
        new KindWatcher(kind, {
          kubeConfig,
          logger: this.logger,
          onChange: () => {
            this.schedule();
          },
          retryInitialMs: this.options.retryInitialMs ?? DEFAULT_RETRY_INITIAL_MS,
          retryMaxMs: this.options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS,
          missingKindRetryMs: this.options.missingKindRetryMs ?? DEFAULT_MISSING_KIND_RETRY_MS,
        }),
    );
    const results = await Promise.allSettled(this.watchers.map((watcher) => watcher.start()));
    const failures = results.flatMap((result) =>
      result.status === 'rejected' ? [result.reason as unknown] : [],
    );
    if (failures.length > 0) {
      await this.close();
      for (const failure of failures)
        this.logger.error({ reason: errorMessage(failure) }, 'kubernetes list failed');
      const more = failures.length > 1 ? ` (and ${String(failures.length - 1)} more kinds)` : '';
      throw new MeshError(ErrorCode.KubeApiFailed, `${errorMessage(failures[0])}${more}`, {
        cause: failures[0],
      });
    }
    // close() may have been called while listing.
    if (this.isClosed()) return;
    this.ready = true;
    this.deliver();
    this.logger.info(
      Object.fromEntries(this.watchers.map((watcher) => [kindLabel(watcher.kind), watcher.objects().length])),
      'kubernetes objects listed',
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = undefined;
    await Promise.all(this.watchers.map((watcher) => watcher.close()));
  }

  /** A method, not the field: the field's narrowing from before an `await` does not hold after it. */
  private isClosed(): boolean {
    return this.closed;
  }

  /** The first change opens a window; everything until it closes is delivered at once. */
  private schedule(): void {
    if (!this.ready || this.closed || this.debounceTimer !== undefined) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.deliver();
    }, this.debounceMs);
  }

  private deliver(): void {
    const onChange = this.onChange;
    if (this.closed || onChange === undefined) return;
    const objects = this.watchers.flatMap((watcher) =>
      watcher.objects().map((object): SourceObject => ({ origin: 'kubernetes', object })),
    );
    try {
      onChange(objects, []);
    } catch (err) {
      this.logger.error({ reason: errorMessage(err) }, 'the consumer of kubernetes objects failed');
    }
  }
}

/**
 * In a pod (KUBERNETES_SERVICE_HOST is set): the pod's service account token and cluster CA.
 * Elsewhere: the first file of KUBECONFIG, else ~/.kube/config.
 */
export function kubeConfigFromEnvironment(): KubeConfig {
  const kubeConfig = new KubeConfig();
  const serviceHost = process.env.KUBERNETES_SERVICE_HOST;
  if (serviceHost !== undefined && serviceHost !== '') kubeConfig.loadFromCluster();
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}

/**
 * A kubeconfig for one API server URL and an optional bearer token: `kubectl proxy`
 * (`http://127.0.0.1:8001`) or a test's stand-in API server.
 */
export function kubeConfigForServer(server: string, options: { readonly token?: string } = {}): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromClusterAndUser(
    // client-node refuses plain HTTP unless told to skip TLS verification: there is no TLS to verify.
    { name: 'cluster', server, skipTLSVerify: server.startsWith('http:') },
    options.token === undefined ? { name: 'user' } : { name: 'user', token: options.token },
  );
  return kubeConfig;
}
