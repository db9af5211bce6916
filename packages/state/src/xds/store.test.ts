import { describe, expect, it } from 'vitest';
import { createAuthorization, type Authorization } from '../authorization.js';
import { createService, createWorkload, type Service, type Workload } from '../model.js';
import { ProxyState } from '../store.js';
import { XdsStateStore } from './store.js';

const ECHO_KEY = 'default/echo.default.svc.cluster.local';

function workload(uid: string, ip: string, services: readonly string[] = []): Workload {
  return createWorkload({
    uid,
    name: uid,
    namespace: 'default',
    workloadIps: [ip],
    services: new Map(services.map((key) => [key, new Map<number, number>()])),
  });
}

function service(namespace: string, hostname: string, vip: string): Service {
  return createService({
    name: hostname.split('.')[0] ?? hostname,
    namespace,
    hostname,
    vips: [{ network: '', ip: vip }],
  });
}

function policy(namespace: string, name: string, action: 'ALLOW' | 'DENY' = 'ALLOW'): Authorization {
  return createAuthorization({ name, namespace, scope: 'NAMESPACE', action, groups: [] });
}

function addresses(...resources: (Workload | Service)[]): Map<string, Workload | Service> {
  return new Map(resources.map((resource) => ['uid' in resource ? resource.uid : resource.key, resource]));
}

const echo = service('default', 'echo.default.svc.cluster.local', '127.10.0.1');
const a = workload('a', '127.0.1.1', [ECHO_KEY]);
const b = workload('b', '127.0.1.2', [ECHO_KEY]);

describe('XdsStateStore: addresses', () => {
  it('starts empty', () => {
    expect(new XdsStateStore().snapshot()).toEqual({ workloads: [], services: [], authorizations: [] });
  });

  it('adds workloads and services', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a, echo, b), removals: [] });
    const snapshot = store.snapshot();
    expect(snapshot.workloads).toEqual([a, b]);
    expect(snapshot.services).toEqual([echo]);
  });

  it('keeps what earlier updates added', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a), removals: [] });
    store.applyAddresses({ upserts: addresses(echo), removals: [] });
    store.applyAddresses({ upserts: addresses(b), removals: [] });
    expect(store.snapshot().workloads).toEqual([a, b]);
    expect(store.snapshot().services).toEqual([echo]);
  });

  it('replaces a workload with the same uid entirely', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a, b), removals: [] });
    const moved = workload('a', '127.0.1.9');
    store.applyAddresses({ upserts: addresses(moved), removals: [] });
    expect(store.snapshot().workloads).toEqual([moved, b]);
    // No trace of the old record: its address and its service membership are gone.
    const state = new ProxyState(store.snapshot());
    expect(state.workloadByIp('127.0.1.1')).toBeUndefined();
    expect(state.workloadByIp('127.0.1.9')).toBe(moved);
  });

  it('replaces a service with the same namespace/hostname', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(echo), removals: [] });
    const renumbered = service('default', echo.hostname, '127.10.0.2');
    store.applyAddresses({ upserts: addresses(renumbered), removals: [] });
    expect(store.snapshot().services).toEqual([renumbered]);
  });

  it('removes a workload by uid', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a, b, echo), removals: [] });
    store.applyAddresses({ upserts: new Map(), removals: ['a'] });
    expect(store.snapshot().workloads).toEqual([b]);
    expect(store.snapshot().services).toEqual([echo]);
  });

  it('removes a service by namespace/hostname', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a, echo), removals: [] });
    store.applyAddresses({ upserts: new Map(), removals: [ECHO_KEY] });
    expect(store.snapshot().services).toEqual([]);
    expect(store.snapshot().workloads).toEqual([a]);
  });

  it('a removed name deletes the workload with that uid before a service with that key', () => {
    const store = new XdsStateStore();
    const oddUid = workload(ECHO_KEY, '127.0.1.5');
    store.applyAddresses({
      upserts: new Map<string, Workload | Service>([[ECHO_KEY, oddUid]]),
      removals: [],
    });
    store.applyAddresses({ upserts: addresses(echo), removals: [] });
    store.applyAddresses({ upserts: new Map(), removals: [ECHO_KEY] });
    expect(store.snapshot().workloads).toEqual([]);
    expect(store.snapshot().services).toEqual([echo]);
    store.applyAddresses({ upserts: new Map(), removals: [ECHO_KEY] });
    expect(store.snapshot().services).toEqual([]);
  });

  it('ignores the removal of a name it does not hold', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a, echo), removals: [] });
    store.applyAddresses({ upserts: new Map(), removals: ['nobody', 'ns/nothing'] });
    expect(store.snapshot()).toEqual({ workloads: [a], services: [echo], authorizations: [] });
  });

  it('applies upserts before removals, so a name in both ends up removed', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a, b), removals: ['a'] });
    expect(store.snapshot().workloads).toEqual([b]);
  });

  it('an initial (complete) update replaces everything of its type', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a, echo), removals: [] });
    store.applyAuthorizations({ upserts: new Map([['default/p', policy('default', 'p')]]), removals: [] });
    store.applyAddresses({ upserts: addresses(b), removals: [], initial: true });
    expect(store.snapshot().workloads).toEqual([b]);
    expect(store.snapshot().services).toEqual([]);
    expect(store.snapshot().authorizations).toHaveLength(1);
  });

  it('a workload may arrive before its service: the index attaches it when the service comes', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a), removals: [] });
    store.applyAddresses({ upserts: addresses(echo), removals: [] });
    const state = new ProxyState(store.snapshot());
    expect(state.endpoints(echo).map((endpoint) => endpoint.workload)).toEqual([a]);
  });

  it('holds 10,000 workloads and snapshots them all', () => {
    const store = new XdsStateStore();
    const many = new Map<string, Workload | Service>();
    for (let i = 0; i < 10_000; i++) {
      const uid = `w-${String(i)}`;
      many.set(uid, workload(uid, `127.${String(i >> 8)}.${String(i & 0xff)}.1`, [ECHO_KEY]));
    }
    store.applyAddresses({ upserts: many, removals: [] });
    store.applyAddresses({ upserts: new Map(), removals: ['w-0', 'w-9999'] });
    expect(store.snapshot().workloads).toHaveLength(9_998);
  });
});

describe('XdsStateStore: authorizations', () => {
  const allow = policy('default', 'allow');
  const deny = policy('default', 'deny', 'DENY');

  it('adds, replaces by namespace/name, and removes', () => {
    const store = new XdsStateStore();
    store.applyAuthorizations({
      upserts: new Map([
        [allow.key, allow],
        [deny.key, deny],
      ]),
      removals: [],
    });
    expect(store.snapshot().authorizations).toEqual([allow, deny]);

    const nowDeny = policy('default', 'allow', 'DENY');
    store.applyAuthorizations({ upserts: new Map([[nowDeny.key, nowDeny]]), removals: [] });
    expect(store.snapshot().authorizations).toEqual([nowDeny, deny]);

    store.applyAuthorizations({ upserts: new Map(), removals: [deny.key, 'default/unknown'] });
    expect(store.snapshot().authorizations).toEqual([nowDeny]);
  });

  it('an initial update replaces every policy and leaves addresses alone', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a), removals: [] });
    store.applyAuthorizations({ upserts: new Map([[allow.key, allow]]), removals: [] });
    store.applyAuthorizations({ upserts: new Map([[deny.key, deny]]), removals: [], initial: true });
    expect(store.snapshot()).toEqual({ workloads: [a], services: [], authorizations: [deny] });
  });
});

describe('XdsStateStore: snapshots', () => {
  it('returns the same frozen snapshot until something changes', () => {
    const store = new XdsStateStore();
    store.applyAddresses({ upserts: addresses(a), removals: [] });
    const first = store.snapshot();
    expect(store.snapshot()).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.workloads)).toBe(true);

    store.applyAddresses({ upserts: addresses(b), removals: [] });
    const second = store.snapshot();
    expect(second).not.toBe(first);
    expect(first.workloads).toEqual([a]);
    expect(second.workloads).toEqual([a, b]);
  });

  it('feeds ProxyState', () => {
    const store = new XdsStateStore();
    const deny = policy('default', 'deny', 'DENY');
    store.applyAddresses({ upserts: addresses(a, echo), removals: [] });
    store.applyAuthorizations({ upserts: new Map([[deny.key, deny]]), removals: [] });
    const state = new ProxyState();
    state.replace(store.snapshot());
    expect(state.workloadByUid('a')).toBe(a);
    expect(state.serviceByVip('127.10.0.1')).toBe(echo);
    expect(state.authorizationsFor(a).policies).toEqual([deny]);
  });
});
