import { describe, expect, it } from 'vitest';
import { createService, createWorkload, type Service, type Workload } from './model.js';
import { pickEndpoint, resolveTargetPort } from './select.js';
import { ProxyState } from './store.js';

const service = createService({
  name: 'echo',
  namespace: 'default',
  hostname: 'echo.default.svc.cluster.local',
  ports: [
    { servicePort: 80, targetPort: 8080 },
    { servicePort: 90, targetPort: 0 },
  ],
});

function endpointWorkload(
  uid: string,
  ports: [number, number][],
  extra: { healthy?: boolean; ips?: string[] } = {},
): Workload {
  return createWorkload({
    uid,
    name: uid,
    namespace: 'default',
    workloadIps: extra.ips ?? ['127.0.1.1'],
    status: extra.healthy === false ? 'Unhealthy' : 'Healthy',
    services: new Map([[service.key, new Map(ports)]]),
  });
}

describe('resolveTargetPort', () => {
  it.each([
    ['endpoint mapping wins', [[80, 9090]], 80, 9090],
    ['falls back to the service target port', [], 80, 8080],
    ['an endpoint 0 falls back to the service', [[80, 0]], 80, 8080],
    ['service 0 and no endpoint mapping → none', [], 90, undefined],
    ['service 0 with an endpoint mapping', [[90, 9191]], 90, 9191],
    ['both 0 → none', [[90, 0]], 90, undefined],
    ['port unknown to both → none', [], 81, undefined],
  ] as [string, [number, number][], number, number | undefined][])(
    '%s',
    (_name, ports, servicePort, expected) => {
      expect(resolveTargetPort(service, new Map(ports), servicePort)).toBe(expected);
    },
  );

  it('uses the service alone without an endpoint map', () => {
    expect(resolveTargetPort(service, undefined, 80)).toBe(8080);
  });
});

describe('pickEndpoint', () => {
  function stateWith(workloads: Workload[], services: Service[] = [service]): ProxyState {
    return new ProxyState({ workloads, services });
  }

  it('picks uniformly by the injected random over endpoints ordered by uid', () => {
    const state = stateWith([
      endpointWorkload('c', []),
      endpointWorkload('a', []),
      endpointWorkload('b', []),
    ]);
    expect(pickEndpoint(state, service, 80, () => 0)?.workload.uid).toBe('a');
    expect(pickEndpoint(state, service, 80, () => 0.34)?.workload.uid).toBe('b');
    expect(pickEndpoint(state, service, 80, () => 0.999)?.workload.uid).toBe('c');
    expect(pickEndpoint(state, service, 80, () => 1)?.workload.uid).toBe('c');
  });

  it('reaches every endpoint with the default random source', () => {
    const state = stateWith([endpointWorkload('a', []), endpointWorkload('b', [])]);
    const seen = new Set<string>();
    for (let i = 0; i < 200 && seen.size < 2; i++)
      seen.add(pickEndpoint(state, service, 80)?.workload.uid ?? '');
    expect(seen).toEqual(new Set(['a', 'b']));
  });

  it.each([
    ['the endpoint mapping', [endpointWorkload('a', [[80, 9090]])], 80, { uid: 'a', targetPort: 9090 }],
    ['the service target port', [endpointWorkload('a', [])], 80, { uid: 'a', targetPort: 8080 }],
    [
      'nothing when the service port maps to 0 and the endpoint has no mapping',
      [endpointWorkload('a', [])],
      90,
      undefined,
    ],
    [
      'only endpoints whose port resolves',
      [endpointWorkload('a', []), endpointWorkload('b', [[90, 9191]])],
      90,
      { uid: 'b', targetPort: 9191 },
    ],
    ['nothing for a port the service does not declare', [endpointWorkload('a', [[81, 9090]])], 81, undefined],
    [
      'nothing when every endpoint is unhealthy',
      [endpointWorkload('a', [], { healthy: false })],
      80,
      undefined,
    ],
    [
      'a healthy endpoint over an unhealthy one',
      [endpointWorkload('a', [], { healthy: false }), endpointWorkload('b', [])],
      80,
      { uid: 'b', targetPort: 8080 },
    ],
    ['nothing for an endpoint without an address', [endpointWorkload('a', [], { ips: [] })], 80, undefined],
    ['nothing without endpoints', [], 80, undefined],
  ] as [string, Workload[], number, { uid: string; targetPort: number } | undefined][])(
    'resolves to %s',
    (_name, workloads, servicePort, expected) => {
      const picked = pickEndpoint(stateWith(workloads), service, servicePort, () => 0);
      expect(picked && { uid: picked.workload.uid, targetPort: picked.targetPort }).toEqual(expected);
    },
  );
});
