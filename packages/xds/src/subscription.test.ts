import { describe, expect, it } from 'vitest';
import {
  TypeSubscription,
  type Delta,
  type SubscriptionRequest,
  type VersionedResource,
} from './subscription.js';

const resource = (version: string): VersionedResource => ({ version, bytes: Buffer.from(version) });
const current = (entries: Record<string, string>): Map<string, VersionedResource> =>
  new Map(Object.entries(entries).map(([name, version]) => [name, resource(version)]));
const request = (overrides: Partial<SubscriptionRequest> = {}): SubscriptionRequest => ({
  resourceNamesSubscribe: [],
  resourceNamesUnsubscribe: [],
  initialResourceVersions: {},
  ...overrides,
});
/** A delta as `name@version` strings and removed names, sorted, for readable expectations. */
const summary = (delta: Delta): { upserts: string[]; removals: string[] } => ({
  upserts: delta.upserts.map(([name, r]) => `${name}@${r.version}`).sort(),
  removals: [...delta.removals].sort(),
});

describe('TypeSubscription', () => {
  it('is a wildcard when the first request names nothing, and sends everything once', () => {
    const sub = TypeSubscription.open(request());
    expect(sub.isWildcard).toBe(true);
    const state = current({ a: '1', b: '1' });
    expect(summary(sub.takeDelta(state))).toEqual({ upserts: ['a@1', 'b@1'], removals: [] });
    expect(summary(sub.takeDelta(state))).toEqual({ upserts: [], removals: [] });
    expect(sub.heldCount).toBe(2);
  });

  it('is a wildcard when the first request names *', () => {
    const sub = TypeSubscription.open(request({ resourceNamesSubscribe: ['*', 'x'] }));
    expect(sub.isWildcard).toBe(true);
    expect(sub.subscribedNames).toEqual(['x']);
  });

  it('subscribes to nothing when the first request subscribes and unsubscribes * (on-demand)', () => {
    const sub = TypeSubscription.open(
      request({ resourceNamesSubscribe: ['*'], resourceNamesUnsubscribe: ['*'] }),
    );
    expect(sub.isWildcard).toBe(false);
    expect(summary(sub.takeDelta(current({ a: '1' })))).toEqual({ upserts: [], removals: [] });
  });

  it('sends named resources only, and a removal for a named one that does not exist', () => {
    const sub = TypeSubscription.open(request({ resourceNamesSubscribe: ['a', 'missing'] }));
    expect(sub.isWildcard).toBe(false);
    expect(summary(sub.takeDelta(current({ a: '1', b: '1' })))).toEqual({
      upserts: ['a@1'],
      removals: ['missing'],
    });
    // Said once: a later push does not repeat it.
    expect(summary(sub.takeDelta(current({ a: '1', b: '2' }), ['b']))).toEqual({ upserts: [], removals: [] });
  });

  it('skips what the client holds at the current version and removes what it holds that is gone', () => {
    const sub = TypeSubscription.open(request({ initialResourceVersions: { a: '1', b: '1', gone: '1' } }));
    expect(summary(sub.takeDelta(current({ a: '1', b: '2', c: '1' })))).toEqual({
      upserts: ['b@2', 'c@1'],
      removals: ['gone'],
    });
  });

  it('keeps watching what a named (non-wildcard) client held when it reconnects', () => {
    const sub = TypeSubscription.open(
      request({
        resourceNamesSubscribe: ['*'],
        resourceNamesUnsubscribe: ['*'],
        initialResourceVersions: { a: '1' },
      }),
    );
    expect(sub.subscribedNames).toEqual(['a']);
    expect(summary(sub.takeDelta(current({ a: '2', b: '1' })))).toEqual({ upserts: ['a@2'], removals: [] });
  });

  it('adds and drops names on later requests; the client forgets what it unsubscribed', () => {
    const sub = TypeSubscription.open(request({ resourceNamesSubscribe: ['a'] }));
    const state = current({ a: '1', b: '1' });
    sub.takeDelta(state);
    sub.update(request({ resourceNamesSubscribe: ['b'] }));
    expect(summary(sub.takeDelta(state))).toEqual({ upserts: ['b@1'], removals: [] });
    sub.update(request({ resourceNamesUnsubscribe: ['a'] }));
    expect(sub.subscribedNames).toEqual(['b']);
    expect(sub.heldCount).toBe(1);
    // A change to `a` no longer concerns this client, not even as a removal.
    expect(summary(sub.takeDelta(current({ b: '1' }), ['a']))).toEqual({ upserts: [], removals: [] });
  });

  it('turns wildcard on and off with * in later requests', () => {
    const sub = TypeSubscription.open(request({ resourceNamesSubscribe: ['a'] }));
    const state = current({ a: '1', b: '1' });
    sub.takeDelta(state);
    sub.update(request({ resourceNamesSubscribe: ['*'] }));
    expect(sub.isWildcard).toBe(true);
    expect(summary(sub.takeDelta(state))).toEqual({ upserts: ['b@1'], removals: [] });
    sub.update(request({ resourceNamesUnsubscribe: ['*'] }));
    expect(sub.isWildcard).toBe(false);
    expect(sub.heldCount).toBe(1);
    expect(summary(sub.takeDelta(current({ a: '2', b: '2' })))).toEqual({ upserts: ['a@2'], removals: [] });
  });

  it('compares only the changed names when told which changed', () => {
    const sub = TypeSubscription.open(request());
    sub.takeDelta(current({ a: '1', b: '1' }));
    const next = current({ a: '2', c: '1' });
    expect(summary(sub.takeDelta(next, ['a', 'b', 'c']))).toEqual({
      upserts: ['a@2', 'c@1'],
      removals: ['b'],
    });
    expect(summary(sub.takeDelta(next))).toEqual({ upserts: [], removals: [] });
  });

  it('answers a newly named resource on the next delta even when told only of other changes', () => {
    const sub = TypeSubscription.open(request({ resourceNamesSubscribe: ['a'] }));
    sub.takeDelta(current({ a: '1' }));
    sub.update(request({ resourceNamesSubscribe: ['x'] }));
    expect(summary(sub.takeDelta(current({ a: '2' }), ['a']))).toEqual({ upserts: ['a@2'], removals: ['x'] });
  });
});
