/** What one response did to a type, after decoding: every accepted resource and every removal. */
export interface ResourceUpdate<T> {
  /** Added or changed resources that decoded; rejected ones are left out (the old value stays). */
  readonly upserts: ReadonlyMap<string, T>;
  /** Names the server says no longer exist. */
  readonly removals: readonly string[];
  /**
   * The first response of a stream that claimed to hold nothing of this type: the complete set.
   * After a reconnect with `initial_resource_versions` the first response is only what changed,
   * so this is false and the handler keeps what it has.
   */
  readonly initial: boolean;
}

/**
 * One xDS resource type on the client: how to read one resource, and how to take a response's
 * worth of them. The handler owns its state; it survives reconnects, so a proxy keeps serving
 * the last good configuration while the control plane is away.
 */
export interface ResourceHandler<T> {
  readonly typeUrl: string;
  /** Throw (ideally a MeshError) to reject this resource: it is named in the NACK and not applied. */
  decode(name: string, resource: Uint8Array): T;
  /** Called once per response. A throw NACKs the whole response. */
  apply(update: ResourceUpdate<T>): void;
}
