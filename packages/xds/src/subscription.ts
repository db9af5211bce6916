/** One resource as the server holds it: its encoded bytes and the version derived from them. */
export interface VersionedResource {
  readonly version: string;
  readonly bytes: Uint8Array;
}

/** The subscription part of a DeltaDiscoveryRequest. */
export interface SubscriptionRequest {
  readonly resourceNamesSubscribe: readonly string[];
  readonly resourceNamesUnsubscribe: readonly string[];
  readonly initialResourceVersions: Readonly<Record<string, string>>;
}

/** What one stream must be sent for one type: resources to (re)send and names to remove. */
export interface Delta {
  readonly upserts: readonly (readonly [name: string, resource: VersionedResource])[];
  readonly removals: readonly string[];
}

const WILDCARD = '*';

/**
 * One stream's subscription to one type, and what the client holds of it, following the
 * incremental xDS rules istiod follows: the first request is a wildcard subscription when it
 * names nothing or names `*`; `*` both subscribed and unsubscribed means "nothing yet" (ztunnel's
 * on-demand mode); later requests add and drop names; `initial_resource_versions` says what the
 * client already holds, so only what differs is sent.
 */
export class TypeSubscription {
  private readonly names = new Set<string>();
  /** name → version the client holds, as far as we know: what we sent, or what it claimed on reconnect. */
  private readonly held = new Map<string, string>();
  /** Names just subscribed and not held: each gets an answer, the resource or a removal if it does not exist. */
  private readonly owed = new Set<string>();

  private constructor(private wildcard: boolean) {}

  /** The subscription the first request of a type on a stream opens. */
  static open(request: SubscriptionRequest): TypeSubscription {
    const subscribe = new Set(request.resourceNamesSubscribe);
    for (const name of request.resourceNamesUnsubscribe) subscribe.delete(name);
    const subscription = new TypeSubscription(
      request.resourceNamesSubscribe.length === 0 || subscribe.has(WILDCARD),
    );
    subscribe.delete(WILDCARD);
    for (const name of subscribe) subscription.names.add(name);
    for (const [name, version] of Object.entries(request.initialResourceVersions)) {
      // A client that named what it watches keeps watching what it holds.
      if (!subscription.wildcard) subscription.names.add(name);
      subscription.held.set(name, version);
    }
    for (const name of subscribe) if (!subscription.held.has(name)) subscription.owed.add(name);
    return subscription;
  }

  /** Applies a later request's subscribe/unsubscribe lists; the client drops what it no longer watches. */
  update(request: SubscriptionRequest): void {
    for (const name of request.resourceNamesSubscribe) {
      if (name === WILDCARD) this.wildcard = true;
      else {
        this.names.add(name);
        if (!this.held.has(name)) this.owed.add(name);
      }
    }
    for (const name of request.resourceNamesUnsubscribe) {
      if (name === WILDCARD) this.wildcard = false;
      else {
        this.names.delete(name);
        this.owed.delete(name);
      }
    }
    for (const name of [...this.held.keys()]) if (!this.wants(name)) this.held.delete(name);
  }

  wants(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }

  /**
   * What to send so that the client matches `current`, recorded as held (the server does not
   * wait for the ACK, as istiod does not). `changed` narrows the comparison to those names when
   * the caller knows only they can differ; the full set is compared otherwise.
   */
  takeDelta(current: ReadonlyMap<string, VersionedResource>, changed?: Iterable<string>): Delta {
    const upserts: (readonly [string, VersionedResource])[] = [];
    const removals: string[] = [];
    const consider = (name: string): void => {
      const resource = current.get(name);
      if (resource === undefined) {
        if (this.held.has(name) || this.owed.has(name)) removals.push(name);
      } else if (this.wants(name) && this.held.get(name) !== resource.version) {
        upserts.push([name, resource]);
      }
    };
    if (changed === undefined) {
      for (const name of current.keys()) consider(name);
      for (const name of this.held.keys()) if (!current.has(name)) consider(name);
      for (const name of this.owed) if (!current.has(name) && !this.held.has(name)) consider(name);
    } else {
      const seen = new Set<string>();
      for (const name of [...changed, ...this.owed]) {
        if (seen.has(name)) continue;
        seen.add(name);
        consider(name);
      }
    }
    this.owed.clear();
    for (const [name, resource] of upserts) this.held.set(name, resource.version);
    for (const name of removals) this.held.delete(name);
    return { upserts, removals };
  }

  get isWildcard(): boolean {
    return this.wildcard;
  }

  /** Explicitly subscribed names, sorted. */
  get subscribedNames(): readonly string[] {
    return [...this.names].sort();
  }

  /** How many resources the client holds, as far as we know. */
  get heldCount(): number {
    return this.held.size;
  }
}
