import { describe, expect, it } from 'vitest';
import { createService, createWorkload, ProxyState, type WorkloadInit } from '@ambient/state';
import { buildRequest, type BuildRequestOptions, type OutboundDecision } from './build-request.js';

const SVC_KEY = 'default/echo.default.svc.cluster.local';
const workload = (init: Partial<WorkloadInit> & Pick<WorkloadInit, 'name' | 'workloadIps'>) =>
  createWorkload({
    uid: `Kubernetes//Pod/default/${init.name}`,
    namespace: 'default',
    node: 'node-b',
    ...init,
  });

const source = workload({
  name: 'sleep',
  serviceAccount: 'sleep',
  workloadIps: ['10.0.1.1'],
  tunnelProtocol: 'HBONE',
  node: 'node-a',
});
const state = new ProxyState({
  workloads: [
    source,
    workload({
      name: 'echo-1',
      serviceAccount: 'echo',
      workloadIps: ['10.0.2.1'],
      tunnelProtocol: 'HBONE',
      services: new Map([[SVC_KEY, new Map([[80, 8080]])]]),
    }),
    workload({ name: 'legacy', workloadIps: ['10.0.2.9'], tunnelProtocol: 'NONE' }),
    workload({
      name: 'sick',
      workloadIps: ['10.0.2.5'],
      tunnelProtocol: 'HBONE',
      status: 'Unhealthy',
      services: new Map([['default/sick.default.svc.cluster.local', new Map([[80, 8080]])]]),
    }),
  ],
  services: [
    createService({
      name: 'echo',
      namespace: 'default',
      hostname: 'echo.default.svc.cluster.local',
      vips: [{ network: '', ip: '10.96.0.1' }],
      ports: [{ servicePort: 80, targetPort: 9999 }],
      subjectAltNames: ['spiffe://cluster.local/ns/default/sa/echo-svc'],
    }),
    createService({
      name: 'sick',
      namespace: 'default',
      hostname: 'sick.default.svc.cluster.local',
      vips: [{ network: '', ip: '10.96.0.2' }],
      ports: [{ servicePort: 80, targetPort: 8080 }],
    }),
  ],
});
const options: BuildRequestOptions = {
  hbonePort: 15008,
  internalPorts: new Set([15001, 15006, 15008, 15080]),
  selfIps: new Set(['10.0.0.1', '10.0.1.1']),
  random: () => 0,
};

/** The decision without the workload/service objects, for compact expectations. */
function summary(decision: OutboundDecision): Record<string, unknown> {
  switch (decision.kind) {
    case 'hbone':
      return {
        kind: decision.kind,
        to: `${decision.hboneAddress.ip}:${String(decision.hboneAddress.port)}`,
        authority: decision.authority,
        expected: [...decision.expectedIdentities].sort(),
        destination: decision.destination.name,
        service: decision.service?.name,
      };
    case 'tcp':
      return {
        kind: decision.kind,
        to: `${decision.address.ip}:${String(decision.address.port)}`,
        destination: decision.destination.name,
      };
    case 'passthrough':
      return { kind: decision.kind, to: `${decision.address.ip}:${String(decision.address.port)}` };
    case 'reject':
      return { kind: decision.kind, code: decision.code };
  }
}

describe('buildRequest', () => {
  it.each<[string, { ip: string; port: number }, Record<string, unknown>]>([
    [
      'a mesh workload IP → HBONE to its pod IP, authority pod:port, its identity expected',
      { ip: '10.0.2.1', port: 8080 },
      {
        kind: 'hbone',
        to: '10.0.2.1:15008',
        authority: '10.0.2.1:8080',
        expected: ['spiffe://cluster.local/ns/default/sa/echo'],
        destination: 'echo-1',
        service: undefined,
      },
    ],
    [
      'a service VIP → an endpoint, the endpoint’s target port, the service SANs and workload identity',
      { ip: '10.96.0.1', port: 80 },
      {
        kind: 'hbone',
        to: '10.0.2.1:15008',
        authority: '10.0.2.1:8080',
        expected: [
          'spiffe://cluster.local/ns/default/sa/echo',
          'spiffe://cluster.local/ns/default/sa/echo-svc',
        ],
        destination: 'echo-1',
        service: 'echo',
      },
    ],
    [
      'a service port the service does not have → no healthy upstream',
      { ip: '10.96.0.1', port: 81 },
      { kind: 'reject', code: 'MESH_ERR_NO_HEALTHY_UPSTREAM' },
    ],
    [
      'a service whose only endpoint is unhealthy → no healthy upstream',
      { ip: '10.96.0.2', port: 80 },
      { kind: 'reject', code: 'MESH_ERR_NO_HEALTHY_UPSTREAM' },
    ],
    [
      'a known workload outside the mesh → plain TCP',
      { ip: '10.0.2.9', port: 5432 },
      { kind: 'tcp', to: '10.0.2.9:5432', destination: 'legacy' },
    ],
    [
      'an unknown address → passthrough',
      { ip: '192.0.2.7', port: 443 },
      { kind: 'passthrough', to: '192.0.2.7:443' },
    ],
    [
      'ztunnel’s own SOCKS5 port on its own address → self call',
      { ip: '10.0.0.1', port: 15080 },
      { kind: 'reject', code: 'MESH_ERR_SELF_CALL' },
    ],
    [
      'an internal port on another address is not a self call',
      { ip: '192.0.2.7', port: 15008 },
      { kind: 'passthrough', to: '192.0.2.7:15008' },
    ],
  ])('%s', (_name, target, expected) => {
    expect(summary(buildRequest(state, source, target, options))).toEqual(expected);
  });
});

describe('buildRequest through waypoints', () => {
  const WAYPOINT_SVC = 'default/waypoint.default.svc.cluster.local';
  const waypointPod = workload({
    name: 'waypoint',
    serviceAccount: 'waypoint',
    workloadIps: ['10.0.3.1'],
    tunnelProtocol: 'HBONE',
    services: new Map([[WAYPOINT_SVC, new Map([[15008, 15008]])]]),
  });
  const byVip = { kind: 'address' as const, network: '', ip: '10.96.0.9', hboneMtlsPort: 15008 };
  const byName = {
    kind: 'hostname' as const,
    namespace: 'default',
    hostname: 'waypoint.default.svc.cluster.local',
    hboneMtlsPort: 15008,
  };
  const missing = { ...byName, hostname: 'gone.default.svc.cluster.local' };
  const meshWith = (extra: {
    serviceWaypoint?: typeof byVip | typeof byName;
    podWaypoint?: typeof byVip | typeof missing;
  }) =>
    new ProxyState({
      workloads: [
        source,
        waypointPod,
        workload({
          name: 'reviews',
          serviceAccount: 'reviews',
          workloadIps: ['10.0.2.2'],
          tunnelProtocol: 'HBONE',
          services: new Map([['default/reviews.default.svc.cluster.local', new Map([[80, 9080]])]]),
          ...(extra.podWaypoint ? { waypoint: extra.podWaypoint } : {}),
        }),
      ],
      services: [
        createService({
          name: 'waypoint',
          namespace: 'default',
          hostname: 'waypoint.default.svc.cluster.local',
          vips: [{ network: '', ip: '10.96.0.9' }],
          ports: [{ servicePort: 15008, targetPort: 15008 }],
        }),
        createService({
          name: 'reviews',
          namespace: 'default',
          hostname: 'reviews.default.svc.cluster.local',
          vips: [{ network: '', ip: '10.96.0.5' }],
          ports: [{ servicePort: 80, targetPort: 9080 }],
          ...(extra.serviceWaypoint ? { waypoint: extra.serviceWaypoint } : {}),
        }),
      ],
    });
  const WAYPOINT_ID = 'spiffe://cluster.local/ns/default/sa/waypoint';

  it.each([
    ['by the waypoint service’s VIP', byVip],
    ['by the waypoint service’s name', byName],
  ])('a service with a waypoint (%s) → HBONE to a waypoint pod, the VIP as authority', (_name, gateway) => {
    const decision = buildRequest(
      meshWith({ serviceWaypoint: gateway }),
      source,
      { ip: '10.96.0.5', port: 80 },
      options,
    );
    expect(summary(decision)).toMatchObject({
      kind: 'hbone',
      to: '10.0.3.1:15008',
      authority: '10.96.0.5:80',
      expected: [WAYPOINT_ID],
    });
  });

  it('a pod with a waypoint, called by its IP → HBONE to the waypoint with the pod IP:port as authority', () => {
    const decision = buildRequest(
      meshWith({ podWaypoint: byVip }),
      source,
      { ip: '10.0.2.2', port: 9080 },
      options,
    );
    expect(summary(decision)).toMatchObject({
      kind: 'hbone',
      to: '10.0.3.1:15008',
      authority: '10.0.2.2:9080',
      expected: [WAYPOINT_ID],
      destination: 'reviews',
    });
  });

  it('an unknown waypoint refuses the connection instead of going around it', () => {
    const decision = buildRequest(
      meshWith({ podWaypoint: missing }),
      source,
      { ip: '10.0.2.2', port: 9080 },
      options,
    );
    expect(summary(decision)).toEqual({ kind: 'reject', code: 'MESH_ERR_WAYPOINT_UNKNOWN' });
  });

  it('the waypoint’s own traffic goes straight to the destination (no loop)', () => {
    const decision = buildRequest(
      meshWith({ serviceWaypoint: byVip }),
      waypointPod,
      { ip: '10.96.0.5', port: 80 },
      options,
    );
    expect(summary(decision)).toMatchObject({
      kind: 'hbone',
      to: '10.0.2.2:15008',
      authority: '10.0.2.2:9080',
    });
  });
});
