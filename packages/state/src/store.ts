import { errorMessage, normalizeIp } from '@ambient/core';
import type { Authorization } from './authorization.js';
import type { Endpoint, Service, Workload } from './model.js';
import {
  buildStateIndex,
  EMPTY_SNAPSHOT,
  networkIpKey,
  type StateIndex,
  type StateSnapshot,
} from './state-index.js';

export type { StateSnapshot } from './state-index.js';

export interface ProxyStateOptions {
  /**
   * Told about a change listener that threw; the other listeners still run. Defaults to a process
   * warning, so a broken listener is visible without taking the proxy down.
   */
  readonly onListenerError?: (error: unknown) => void;
}

const NO_WORKLOADS: readonly Workload[] = Object.freeze([]);
const NO_SERVICES: readonly Service[] = Object.freeze([]);
const NO_ENDPOINTS: readonly Endpoint[] = Object.freeze([]);
const NO_KEYS: readonly string[] = Object.freeze([]);
const NO_AUTHORIZATIONS: readonly Authorization[] = Object.freeze([]);

function warnListenerError(error: unknown): void {
  process.emitWarning(`a state change listener threw: ${errorMessage(error)}`, 'ProxyStateListenerError');
}

/**
 * The workloads and services this proxy knows, as one immutable index. `replace` builds the whole
 * new index before a single swap, so a lookup sees either the old state or the new, never a mix.
 */
export class ProxyState {
  private current: StateIndex;
  private listeners: readonly (() => void)[] = [];
  private readonly onListenerError: (error: unknown) => void;

  constructor(snapshot: StateSnapshot = EMPTY_SNAPSHOT, options: ProxyStateOptions = {}) {
    this.current = buildStateIndex(snapshot, 0);
    this.onListenerError = options.onListenerError ?? warnListenerError;
  }

  /** 0 for the constructor's snapshot; increments on every replace. */
  get version(): number {
    return this.current.version;
  }

  /** Replace everything at once, then tell every listener. */
  replace(snapshot: StateSnapshot): void {
    this.current = buildStateIndex(snapshot, this.current.version + 1);
    // A listener that subscribes or unsubscribes while we notify changes the next round, not this one.
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  /** Called after each replace; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    const subscription = (): void => {
      listener();
    };
    this.listeners = [...this.listeners, subscription];
    return () => {
      this.listeners = this.listeners.filter((entry) => entry !== subscription);
    };
  }

  /** Without a network, a workload on any network (the last one listed wins a shared IP). */
  workloadByIp(ip: string, network?: string): Workload | undefined {
    const normalized = normalizeIp(ip);
    return network === undefined
      ? this.current.workloadByIp.get(normalized)
      : this.current.workloadByNetworkIp.get(networkIpKey(network, normalized));
  }

  workloadByUid(uid: string): Workload | undefined {
    return this.current.workloadByUid.get(uid);
  }

  /** Without a network, a service on any network (the last one listed wins a shared VIP). */
  serviceByVip(ip: string, network?: string): Service | undefined {
    const normalized = normalizeIp(ip);
    return network === undefined
      ? this.current.serviceByVip.get(normalized)
      : this.current.serviceByNetworkVip.get(networkIpKey(network, normalized));
  }

  /** By `namespace/hostname`. */
  serviceByKey(key: string): Service | undefined {
    return this.current.serviceByKey.get(key);
  }

  /** Every service with this hostname, whatever its namespace. */
  servicesByHostname(hostname: string): readonly Service[] {
    return this.current.servicesByHostname.get(hostname) ?? NO_SERVICES;
  }

  /** Healthy workloads that list this service's key, ordered by uid. */
  endpoints(service: Service): readonly Endpoint[] {
    return this.current.endpointsByServiceKey.get(service.key) ?? NO_ENDPOINTS;
  }

  workloadsOnNode(node: string): readonly Workload[] {
    return this.current.workloadsByNode.get(node) ?? NO_WORKLOADS;
  }

  workloads(): readonly Workload[] {
    return this.current.workloads;
  }

  services(): readonly Service[] {
    return this.current.services;
  }

  authorizations(): readonly Authorization[] {
    return this.current.authorizations;
  }

  /** By `namespace/name`. */
  authorizationByKey(key: string): Authorization | undefined {
    return this.current.authorizationByKey.get(key);
  }

  /**
   * The policies that apply to connections to this workload, as ztunnel collects them (reference §5.2):
   * GLOBAL ones, NAMESPACE ones of the workload's namespace, and the selector-scoped keys the workload
   * lists. Keys naming no known policy are returned in `unknownKeys` (logged by the caller, then skipped).
   */
  authorizationsFor(workload: Workload): {
    readonly policies: readonly Authorization[];
    readonly unknownKeys: readonly string[];
  } {
    const index = this.current;
    const inNamespace = index.namespaceAuthorizations.get(workload.namespace) ?? NO_AUTHORIZATIONS;
    if (workload.authorizationPolicies.length === 0 && index.globalAuthorizations.length === 0) {
      return { policies: inNamespace, unknownKeys: NO_KEYS };
    }
    const policies = [...index.globalAuthorizations, ...inNamespace];
    let unknownKeys: string[] | undefined;
    for (const key of workload.authorizationPolicies) {
      const policy = index.authorizationByKey.get(key);
      if (policy === undefined) (unknownKeys ??= []).push(key);
      else if (policy.scope === 'WORKLOAD_SELECTOR') policies.push(policy);
    }
    return { policies, unknownKeys: unknownKeys ?? NO_KEYS };
  }
}
