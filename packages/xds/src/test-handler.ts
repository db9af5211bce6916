import type { ResourceHandler, ResourceUpdate } from './handler.js';

/**
 * A resource type for tests: each resource is UTF-8 JSON. Invalid JSON is rejected; `failApply`
 * makes the next apply throw. Keeps the state a real handler would, and every update it saw.
 */
export class JsonHandler implements ResourceHandler<unknown> {
  readonly state = new Map<string, unknown>();
  readonly updates: ResourceUpdate<unknown>[] = [];
  failApply: string | undefined;

  constructor(readonly typeUrl: string) {}

  decode(_name: string, resource: Uint8Array): unknown {
    return JSON.parse(Buffer.from(resource).toString('utf8'));
  }

  apply(update: ResourceUpdate<unknown>): void {
    if (this.failApply !== undefined) {
      const reason = this.failApply;
      this.failApply = undefined;
      throw new Error(reason);
    }
    for (const name of update.removals) this.state.delete(name);
    for (const [name, value] of update.upserts) this.state.set(name, value);
    this.updates.push(update);
  }
}

/** Resources as the server takes them: name → UTF-8 JSON bytes. */
export function jsonResources(entries: Record<string, unknown>): Map<string, Uint8Array> {
  return new Map(Object.entries(entries).map(([name, value]) => [name, Buffer.from(JSON.stringify(value))]));
}
