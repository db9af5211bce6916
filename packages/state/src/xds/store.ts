import type { Authorization } from '../authorization.js';
import type { Service, Workload } from '../model.js';
import type { StateSnapshot } from '../state-index.js';

/** One xDS response's worth of one type, as the xDS client's `ResourceUpdate` carries it. */
export interface XdsResourceUpdate<T> {
  /** xDS name → accepted resource. */
  readonly upserts: ReadonlyMap<string, T>;
  /** xDS names that no longer exist. */
  readonly removals: readonly string[];
  /** The complete set of this type (a fresh stream's first response): everything not in it goes. */
  readonly initial?: boolean;
}

function isWorkload(resource: Workload | Service): resource is Workload {
  return 'uid' in resource;
}

/**
 * The latest accepted xDS resources of both types, turned into `StateSnapshot`s for `ProxyState`.
 * ztunnel's insertion semantics (reference §4.1): a workload replaces the one with the same uid, a
 * service the one with the same `namespace/hostname`, a policy the one with the same `namespace/name`;
 * a removed name deletes the workload with that uid, else the service with that key. Within one
 * update upserts apply before removals, so a name listed as both ends up removed.
 */
export class XdsStateStore {
  private readonly workloads = new Map<string, Workload>();
  private readonly services = new Map<string, Service>();
  private readonly authorizations = new Map<string, Authorization>();
  /** Built on demand and kept until the next change: publishing twice costs nothing. */
  private cached: StateSnapshot | undefined;

  applyAddresses(update: XdsResourceUpdate<Workload | Service>): void {
    if (update.initial === true) {
      this.workloads.clear();
      this.services.clear();
    }
    // Keyed by the resource's own uid or key, which the converter already checked against its name.
    for (const resource of update.upserts.values()) {
      if (isWorkload(resource)) this.workloads.set(resource.uid, resource);
      else this.services.set(resource.key, resource);
    }
    for (const name of update.removals) {
      if (!this.workloads.delete(name)) this.services.delete(name);
    }
    this.cached = undefined;
  }

  applyAuthorizations(update: XdsResourceUpdate<Authorization>): void {
    if (update.initial === true) this.authorizations.clear();
    for (const policy of update.upserts.values()) this.authorizations.set(policy.key, policy);
    for (const name of update.removals) this.authorizations.delete(name);
    this.cached = undefined;
  }

  /** Everything held now; O(n), and the same object until the next apply. */
  snapshot(): StateSnapshot {
    this.cached ??= Object.freeze({
      workloads: Object.freeze([...this.workloads.values()]),
      services: Object.freeze([...this.services.values()]),
      authorizations: Object.freeze([...this.authorizations.values()]),
    });
    return this.cached;
  }
}
