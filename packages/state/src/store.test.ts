import { describe, expect, it } from 'vitest';
import { createService, createWorkload, type Service, type Workload, type WorkloadInit } from './model.js';
import { ProxyState } from './store.js';

const ECHO_KEY = 'default/echo.default.svc.cluster.local';

function workload(uid: string, ip: string, extra: Partial<WorkloadInit> = {}): Workload {
  return createWorkload({ uid, name: uid, namespace: 'default', workloadIps: [ip], ...extra });
}

const echo = createService({
  name: 'echo',
  namespace: 'default',
  hostname: 'echo.default.svc.cluster.local',
  vips: [
    { network: '', ip: '127.10.0.1' },
    { network: 'west', ip: '127.10.0.2' },
  ],
  ports: [{ servicePort: 80, targetPort: 8080 }],
});
const echoOther = createService({ name: 'echo', namespace: 'other', hostname: echo.hostname });

const a = workload('a', '127.0.1.1', {
  node: 'node-a',
  services: new Map([[ECHO_KEY, new Map([[80, 9090]])]]),
});
const b = workload('b', '127.0.1.2', {
  node: 'node-b',
  network: 'west',
  services: new Map([[ECHO_KEY, new Map()]]),
});
const sick = workload('c', '127.0.1.3', {
  node: 'node-a',
  status: 'Unhealthy',
  services: new Map([[ECHO_KEY, new Map()]]),
});

function fixture(): ProxyState {
  // Listed out of uid order on purpose: endpoints must come back ordered.
  return new ProxyState({ workloads: [b, sick, a], services: [echo, echoOther] });
}

describe('ProxyState lookups', () => {
  const state = fixture();

  it.each([
    ['127.0.1.1', undefined, 'a'],
    ['::ffff:127.0.1.1', undefined, 'a'],
    ['127.0.1.1', '', 'a'],
    ['127.0.1.1', 'west', undefined],
    ['127.0.1.2', 'west', 'b'],
    ['127.0.1.2', undefined, 'b'],
    ['127.0.1.2', '', undefined],
    ['127.0.1.9', undefined, undefined],
  ] as const)('workloadByIp(%s, %s) → %s', (ip, network, uid) => {
    expect(state.workloadByIp(ip, network)?.uid).toBe(uid);
  });

  it.each([
    ['127.10.0.1', undefined, ECHO_KEY],
    ['::ffff:127.10.0.1', '', ECHO_KEY],
    ['127.10.0.2', 'west', ECHO_KEY],
    ['127.10.0.2', '', undefined],
    ['127.0.1.1', undefined, undefined],
  ] as const)('serviceByVip(%s, %s) → %s', (ip, network, key) => {
    expect(state.serviceByVip(ip, network)?.key).toBe(key);
  });

  it('finds workloads by uid and node, services by key and hostname', () => {
    expect(state.workloadByUid('b')).toBe(b);
    expect(state.workloadByUid('zz')).toBeUndefined();
    expect(state.workloadsOnNode('node-a')).toEqual([sick, a]);
    expect(state.workloadsOnNode('node-z')).toEqual([]);
    expect(state.serviceByKey(ECHO_KEY)).toBe(echo);
    expect(state.serviceByKey('default/nope')).toBeUndefined();
    expect(state.servicesByHostname(echo.hostname)).toEqual([echo, echoOther]);
    expect(state.servicesByHostname('nope')).toEqual([]);
    expect(state.workloads()).toEqual([b, sick, a]);
    expect(state.services()).toEqual([echo, echoOther]);
  });

  it('lists healthy endpoints only, ordered by uid, with their own port maps', () => {
    const endpoints = state.endpoints(echo);
    expect(endpoints.map((endpoint) => endpoint.workload.uid)).toEqual(['a', 'b']);
    expect(endpoints[0]?.targetPorts.get(80)).toBe(9090);
    expect(state.endpoints(echoOther)).toEqual([]);
  });

  it('keeps endpoints that arrive before their service', () => {
    const early = new ProxyState({ workloads: [a], services: [] });
    expect(early.endpoints(echo).map((endpoint) => endpoint.workload)).toEqual([a]);
  });
});

describe('ProxyState insertion semantics', () => {
  it('lets a later workload with the same uid replace the earlier one entirely', () => {
    const moved = workload('a', '127.0.1.7');
    const state = new ProxyState({ workloads: [a, moved], services: [] });
    expect(state.workloads()).toEqual([moved]);
    expect(state.workloadByIp('127.0.1.1')).toBeUndefined();
    expect(state.workloadByIp('127.0.1.7')).toBe(moved);
    expect(state.endpoints(echo)).toEqual([]);
  });

  it('lets a later service with the same key replace the earlier one', () => {
    const renumbered = createService({ name: 'echo', namespace: 'default', hostname: echo.hostname });
    const state = new ProxyState({ workloads: [], services: [echo, renumbered] });
    expect(state.services()).toEqual([renumbered]);
    expect(state.serviceByVip('127.10.0.1')).toBeUndefined();
    expect(state.servicesByHostname(echo.hostname)).toEqual([renumbered]);
  });
});

describe('ProxyState.replace', () => {
  it('swaps everything at once: a listener already sees the new version and the new data', () => {
    const state = fixture();
    const seen: {
      version: number;
      a: Workload | undefined;
      moved: Workload | undefined;
      service: Service | undefined;
    }[] = [];
    state.onChange(() => {
      seen.push({
        version: state.version,
        a: state.workloadByIp('127.0.1.1'),
        moved: state.workloadByIp('127.0.2.1'),
        service: state.serviceByVip('127.10.0.1'),
      });
    });
    expect(state.version).toBe(0);
    const moved = workload('a', '127.0.2.1');
    state.replace({ workloads: [moved], services: [] });
    expect(seen).toEqual([{ version: 1, a: undefined, moved, service: undefined }]);
    state.replace({ workloads: [], services: [] });
    expect(state.version).toBe(2);
    expect(state.workloads()).toEqual([]);
  });

  it('keeps calling listeners after one throws, and reports the error', () => {
    const errors: unknown[] = [];
    const state = new ProxyState(undefined, { onListenerError: (error) => errors.push(error) });
    const calls: string[] = [];
    state.onChange(() => calls.push('first'));
    state.onChange(() => {
      throw new Error('boom');
    });
    state.onChange(() => calls.push('third'));
    state.replace({ workloads: [a], services: [] });
    expect(calls).toEqual(['first', 'third']);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('boom');
  });

  it('reports a throwing listener as a process warning when no callback is given', async () => {
    const state = new ProxyState();
    state.onChange(() => {
      throw new Error('listener broke');
    });
    const warning = new Promise<Error>((resolve) => process.once('warning', resolve));
    state.replace({ workloads: [], services: [] });
    const { name, message } = await warning;
    expect({ name, message }).toEqual({
      name: 'ProxyStateListenerError',
      message: 'a state change listener threw: listener broke',
    });
  });

  it('stops calling a listener once unsubscribed, even the same function subscribed twice', () => {
    const state = new ProxyState();
    let calls = 0;
    const listener = (): void => {
      calls++;
    };
    const first = state.onChange(listener);
    state.onChange(listener);
    state.replace({ workloads: [], services: [] });
    expect(calls).toBe(2);
    first();
    state.replace({ workloads: [], services: [] });
    expect(calls).toBe(3);
  });
});

describe('ProxyState at scale', () => {
  it('indexes 10,000 workloads and finds each by IP, uid, node and endpoint', () => {
    const count = 10_000;
    const workloads: Workload[] = [];
    for (let i = 0; i < count; i++) {
      const ip = `127.${String(Math.floor(i / 250) + 1)}.${String(i % 250)}.1`;
      workloads.push(
        workload(`w${String(i)}`, ip, {
          node: `node-${String(i % 10)}`,
          status: i % 100 === 0 ? 'Unhealthy' : 'Healthy',
          services: new Map([[ECHO_KEY, new Map()]]),
        }),
      );
    }
    const state = new ProxyState({ workloads, services: [echo] });
    for (const [i, expected] of workloads.entries()) {
      const ip = expected.workloadIps[0] ?? '';
      expect(state.workloadByIp(ip)).toBe(expected);
      expect(state.workloadByUid(`w${String(i)}`)).toBe(expected);
    }
    expect(state.workloadsOnNode('node-3')).toHaveLength(count / 10);
    const endpoints = state.endpoints(echo);
    expect(endpoints).toHaveLength(count - count / 100);
    const uids = endpoints.map((endpoint) => endpoint.workload.uid);
    expect(uids).toEqual([...uids].sort());
  });
});
