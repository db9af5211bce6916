import { workload as wire } from '@ambient/protos';
import { describe, expect, it } from 'vitest';
import { createService, createWorkload, type Service, type Workload } from '../model.js';
import { convertAddress } from './convert-address.js';
import { expectInvalid, unknownEnumValue, ip, serviceBytes, workloadBytes } from './test-wire.js';

const UID = 'Kubernetes//Pod/default/echo-1';

function toWorkload(name: string, bytes: Uint8Array): Workload {
  const converted = convertAddress(name, bytes);
  if (converted.kind !== 'workload') throw new Error(`expected a workload, got a ${converted.kind}`);
  return converted.workload;
}

function toService(name: string, bytes: Uint8Array): Service {
  const converted = convertAddress(name, bytes);
  if (converted.kind !== 'service') throw new Error(`expected a service, got a ${converted.kind}`);
  return converted.service;
}

describe('convertAddress: workloads', () => {
  it('reads every field our model carries', () => {
    const bytes = workloadBytes({
      uid: UID,
      name: 'echo-1',
      namespace: 'default',
      addresses: [ip('127.0.1.1'), ip('fd00::1')],
      network: 'west',
      tunnelProtocol: wire.TunnelProtocol.HBONE,
      trustDomain: 'example.org',
      serviceAccount: 'echo',
      node: 'node-a',
      canonicalName: 'echo',
      canonicalRevision: 'v1',
      workloadType: wire.WorkloadType.POD,
      workloadName: 'echo-deploy',
      services: {
        'default/echo.default.svc.cluster.local': {
          ports: [
            { servicePort: 80, targetPort: 8080, appProtocol: wire.AppProtocol.HTTP11 },
            { servicePort: 443, targetPort: 0, appProtocol: wire.AppProtocol.UNKNOWN },
          ],
        },
        'other/db.other.svc.cluster.local': { ports: [] },
      },
      authorizationPolicies: ['default/allow-echo', 'istio-system/istio_converted_static_strict'],
      status: wire.WorkloadStatus.UNHEALTHY,
      clusterId: 'east',
      locality: { region: 'eu', zone: 'eu-1a', subzone: 'rack-3' },
      waypoint: {
        destination: { $case: 'address', value: { network: 'west', address: ip('127.0.2.1') } },
        hboneMtlsPort: 15009,
      },
    });
    expect(convertAddress(UID, bytes)).toEqual({
      kind: 'workload',
      workload: createWorkload({
        uid: UID,
        name: 'echo-1',
        namespace: 'default',
        workloadIps: ['127.0.1.1', 'fd00::1'],
        network: 'west',
        tunnelProtocol: 'HBONE',
        trustDomain: 'example.org',
        serviceAccount: 'echo',
        node: 'node-a',
        canonicalName: 'echo',
        canonicalRevision: 'v1',
        workloadType: 'pod',
        workloadName: 'echo-deploy',
        services: new Map([
          [
            'default/echo.default.svc.cluster.local',
            new Map([
              [80, 8080],
              [443, 0],
            ]),
          ],
          ['other/db.other.svc.cluster.local', new Map()],
        ]),
        authorizationPolicies: ['default/allow-echo', 'istio-system/istio_converted_static_strict'],
        status: 'Unhealthy',
        clusterId: 'east',
        locality: { region: 'eu', zone: 'eu-1a', subzone: 'rack-3' },
        waypoint: { kind: 'address', network: 'west', ip: '127.0.2.1', hboneMtlsPort: 15009 },
      }),
    });
  });

  it("applies ztunnel's defaults to empty fields", () => {
    const workload = toWorkload(UID, workloadBytes({ uid: UID, namespace: 'default' }));
    expect(workload).toMatchObject({
      trustDomain: 'cluster.local',
      serviceAccount: 'default',
      clusterId: 'Kubernetes',
      identity: 'spiffe://cluster.local/ns/default/sa/default',
      tunnelProtocol: 'NONE',
      workloadType: 'deployment',
      status: 'Healthy',
      network: '',
      workloadIps: [],
      authorizationPolicies: [],
    });
    expect(workload.services.size).toBe(0);
    expect(workload.locality).toBeUndefined();
    expect(workload.waypoint).toBeUndefined();
  });

  it('derives the identity from trust domain, namespace and service account', () => {
    const workload = toWorkload(
      UID,
      workloadBytes({ uid: UID, namespace: 'shop', trustDomain: 'td.example', serviceAccount: 'cart' }),
    );
    expect(workload.identity).toBe('spiffe://td.example/ns/shop/sa/cart');
  });

  it.each([
    ['::ffff:127.0.1.9 (as 16 bytes) becomes IPv4 text', ip('::ffff:7f00:109'), '127.0.1.9'],
    ['IPv6 is written as Node writes peers', ip('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'],
    ['IPv4', ip('10.0.0.7'), '10.0.0.7'],
  ])('addresses: %s', (_, raw, text) => {
    expect(toWorkload(UID, workloadBytes({ uid: UID, addresses: [raw] })).workloadIps).toEqual([text]);
  });

  it.each([
    [wire.TunnelProtocol.NONE, 'NONE'],
    [wire.TunnelProtocol.HBONE, 'HBONE'],
  ])('tunnel_protocol %i → %s', (tunnelProtocol, expected) => {
    expect(toWorkload(UID, workloadBytes({ uid: UID, tunnelProtocol })).tunnelProtocol).toBe(expected);
  });

  it.each([
    [wire.WorkloadType.DEPLOYMENT, 'deployment'],
    [wire.WorkloadType.CRONJOB, 'cronjob'],
    [wire.WorkloadType.POD, 'pod'],
    [wire.WorkloadType.JOB, 'job'],
  ])('workload_type %i → %s', (workloadType, expected) => {
    expect(toWorkload(UID, workloadBytes({ uid: UID, workloadType })).workloadType).toBe(expected);
  });

  it.each([
    [wire.WorkloadStatus.HEALTHY, 'Healthy'],
    [wire.WorkloadStatus.UNHEALTHY, 'Unhealthy'],
  ])('status %i → %s', (status, expected) => {
    expect(toWorkload(UID, workloadBytes({ uid: UID, status })).status).toBe(expected);
  });

  it.each([
    [
      'a hostname waypoint, default port',
      {
        destination: {
          $case: 'hostname' as const,
          value: { namespace: 'default', hostname: 'waypoint.default.svc.cluster.local' },
        },
        hboneMtlsPort: 0,
      },
      {
        kind: 'hostname',
        namespace: 'default',
        hostname: 'waypoint.default.svc.cluster.local',
        hboneMtlsPort: 15008,
      },
    ],
    [
      'an address waypoint on the default network',
      {
        destination: { $case: 'address' as const, value: { network: '', address: ip('fd00::9') } },
        hboneMtlsPort: 15008,
      },
      { kind: 'address', network: '', ip: 'fd00::9', hboneMtlsPort: 15008 },
    ],
  ])('waypoint: %s', (_, waypoint, expected) => {
    expect(toWorkload(UID, workloadBytes({ uid: UID, waypoint })).waypoint).toEqual(expected);
  });

  it.each<[string, string, Partial<wire.Workload>, string]>([
    ['uid missing', UID, { namespace: 'default' }, `workload "${UID}": uid: required`],
    [
      'uid other than the resource name',
      'someone-else',
      { uid: UID },
      `workload "someone-else": uid: "${UID}" does not match the resource name`,
    ],
    [
      'a 3-byte address',
      UID,
      { uid: UID, addresses: [ip('127.0.0.1'), Buffer.from([1, 2, 3])] },
      `workload "${UID}": addresses[1]: expected 4 or 16 bytes, got 3`,
    ],
    [
      'an empty address',
      UID,
      { uid: UID, addresses: [Buffer.alloc(0)] },
      `workload "${UID}": addresses[0]: expected 4 or 16 bytes, got 0`,
    ],
    [
      'LEGACY_ISTIO_MTLS',
      UID,
      { uid: UID, tunnelProtocol: wire.TunnelProtocol.LEGACY_ISTIO_MTLS },
      `workload "${UID}": tunnel_protocol: LEGACY_ISTIO_MTLS is not supported (ztunnel refuses it too)`,
    ],
    [
      'an unknown tunnel protocol',
      UID,
      { uid: UID, tunnelProtocol: unknownEnumValue(wire.TunnelProtocol, 7) },
      `workload "${UID}": tunnel_protocol: unknown value 7`,
    ],
    [
      'an unknown workload type',
      UID,
      { uid: UID, workloadType: unknownEnumValue(wire.WorkloadType, 9) },
      `workload "${UID}": workload_type: unknown value 9`,
    ],
    [
      'an unknown status',
      UID,
      { uid: UID, status: unknownEnumValue(wire.WorkloadStatus, 2) },
      `workload "${UID}": status: unknown value 2`,
    ],
    [
      'a services key without a slash',
      UID,
      { uid: UID, services: { echo: { ports: [] } } },
      `workload "${UID}": services["echo"]: key is not "namespace/hostname"`,
    ],
    [
      'a services key without a namespace',
      UID,
      { uid: UID, services: { '/echo.svc': { ports: [] } } },
      `workload "${UID}": services["/echo.svc"]: key is not "namespace/hostname"`,
    ],
    [
      'a services key without a hostname',
      UID,
      { uid: UID, services: { 'default/': { ports: [] } } },
      `workload "${UID}": services["default/"]: key is not "namespace/hostname"`,
    ],
    [
      'a service port of 0',
      UID,
      {
        uid: UID,
        services: {
          'ns/h': { ports: [{ servicePort: 0, targetPort: 80, appProtocol: wire.AppProtocol.UNKNOWN }] },
        },
      },
      `workload "${UID}": services["ns/h"].ports[0].service_port: 0 is not a port (1-65535)`,
    ],
    [
      'a target port over 65535',
      UID,
      {
        uid: UID,
        services: {
          'ns/h': { ports: [{ servicePort: 80, targetPort: 65536, appProtocol: wire.AppProtocol.UNKNOWN }] },
        },
      },
      `workload "${UID}": services["ns/h"].ports[0].target_port: 65536 is not a port (0-65535)`,
    ],
    [
      'a waypoint without a destination',
      UID,
      { uid: UID, waypoint: { hboneMtlsPort: 15008 } },
      `workload "${UID}": waypoint.destination: required (hostname or address)`,
    ],
    [
      'a waypoint address of 5 bytes',
      UID,
      {
        uid: UID,
        waypoint: {
          destination: { $case: 'address', value: { network: '', address: Buffer.alloc(5) } },
          hboneMtlsPort: 0,
        },
      },
      `workload "${UID}": waypoint.address.address: expected 4 or 16 bytes, got 5`,
    ],
    [
      'a waypoint hostname without namespace or hostname',
      UID,
      {
        uid: UID,
        waypoint: {
          destination: { $case: 'hostname', value: { namespace: '', hostname: '' } },
          hboneMtlsPort: 0,
        },
      },
      `workload "${UID}": waypoint.hostname.namespace: required; waypoint.hostname.hostname: required`,
    ],
    [
      'a waypoint port over 65535',
      UID,
      {
        uid: UID,
        waypoint: {
          destination: { $case: 'hostname', value: { namespace: 'ns', hostname: 'wp' } },
          hboneMtlsPort: 70000,
        },
      },
      `workload "${UID}": waypoint.hbone_mtls_port: 70000 is not a port (1-65535)`,
    ],
    [
      'several problems at once',
      UID,
      { addresses: [Buffer.alloc(2)], status: unknownEnumValue(wire.WorkloadStatus, 3) },
      `workload "${UID}": uid: required; addresses[0]: expected 4 or 16 bytes, got 2; status: unknown value 3`,
    ],
  ])('rejects %s', (_, name, fields, message) => {
    expectInvalid(() => convertAddress(name, workloadBytes(fields)), message);
  });
});

describe('convertAddress: services', () => {
  const KEY = 'default/echo.default.svc.cluster.local';

  it('reads every field our model carries', () => {
    const bytes = serviceBytes({
      name: 'echo',
      namespace: 'default',
      hostname: 'echo.default.svc.cluster.local',
      addresses: [
        { network: '', address: ip('127.10.0.1') },
        { network: 'west', address: ip('fd00::10') },
        { network: '', address: ip('::ffff:7f0a:2') }, // ::ffff:127.10.0.2
      ],
      ports: [
        { servicePort: 80, targetPort: 8080, appProtocol: wire.AppProtocol.HTTP2 },
        { servicePort: 9000, targetPort: 0, appProtocol: wire.AppProtocol.TCP },
      ],
      subjectAltNames: ['spiffe://cluster.local/ns/default/sa/echo'],
      waypoint: {
        destination: {
          $case: 'hostname',
          value: { namespace: 'default', hostname: 'waypoint.default.svc.cluster.local' },
        },
        hboneMtlsPort: 0,
      },
    });
    expect(convertAddress(KEY, bytes)).toEqual({
      kind: 'service',
      service: createService({
        name: 'echo',
        namespace: 'default',
        hostname: 'echo.default.svc.cluster.local',
        vips: [
          { network: '', ip: '127.10.0.1' },
          { network: 'west', ip: 'fd00::10' },
          { network: '', ip: '127.10.0.2' },
        ],
        ports: [
          { servicePort: 80, targetPort: 8080 },
          { servicePort: 9000, targetPort: 0 },
        ],
        subjectAltNames: ['spiffe://cluster.local/ns/default/sa/echo'],
        waypoint: {
          kind: 'hostname',
          namespace: 'default',
          hostname: 'waypoint.default.svc.cluster.local',
          hboneMtlsPort: 15008,
        },
      }),
    });
  });

  it('needs only a namespace and a hostname', () => {
    const service = toService('ns/h.example', serviceBytes({ namespace: 'ns', hostname: 'h.example' }));
    expect(service).toEqual(createService({ name: '', namespace: 'ns', hostname: 'h.example' }));
    expect(service.key).toBe('ns/h.example');
  });

  it.each<[string, string, Partial<wire.Service>, string]>([
    ['no namespace', 'ns/h', { hostname: 'h' }, 'service "ns/h": namespace: required'],
    ['no hostname', 'ns/h', { namespace: 'ns' }, 'service "ns/h": hostname: required'],
    [
      'a key other than the resource name',
      'ns/other',
      { namespace: 'ns', hostname: 'h' },
      'service "ns/other": namespace/hostname: "ns/h" does not match the resource name',
    ],
    [
      'a 5-byte VIP',
      'ns/h',
      {
        namespace: 'ns',
        hostname: 'h',
        addresses: [
          { network: '', address: ip('10.0.0.1') },
          { network: '', address: Buffer.alloc(5) },
        ],
      },
      'service "ns/h": addresses[1].address: expected 4 or 16 bytes, got 5',
    ],
    [
      'a service port of 0',
      'ns/h',
      {
        namespace: 'ns',
        hostname: 'h',
        ports: [{ servicePort: 0, targetPort: 80, appProtocol: wire.AppProtocol.UNKNOWN }],
      },
      'service "ns/h": ports[0].service_port: 0 is not a port (1-65535)',
    ],
    [
      'a target port over 65535',
      'ns/h',
      {
        namespace: 'ns',
        hostname: 'h',
        ports: [
          { servicePort: 80, targetPort: 80, appProtocol: wire.AppProtocol.UNKNOWN },
          { servicePort: 81, targetPort: 100000, appProtocol: wire.AppProtocol.UNKNOWN },
        ],
      },
      'service "ns/h": ports[1].target_port: 100000 is not a port (0-65535)',
    ],
    [
      'a waypoint without a destination',
      'ns/h',
      { namespace: 'ns', hostname: 'h', waypoint: { hboneMtlsPort: 0 } },
      'service "ns/h": waypoint.destination: required (hostname or address)',
    ],
  ])('rejects %s', (_, name, fields, message) => {
    expectInvalid(() => convertAddress(name, serviceBytes(fields)), message);
  });
});

describe('convertAddress: the envelope', () => {
  it('rejects an Address that is neither a workload nor a service', () => {
    expectInvalid(
      () => convertAddress('x', wire.Address.encode({}).finish()),
      'address "x": type: required (workload or service)',
    );
  });

  it('rejects bytes that are not a protobuf message', () => {
    // Field 1 (workload), length-delimited, claiming 5 bytes that are not there.
    const truncated = Uint8Array.from([0x0a, 0x05, 0x01]);
    expect(() => convertAddress('x', truncated)).toThrow(
      /^address "x": cannot decode istio\.workload\.Address: /,
    );
  });
});
