import type { GatewayAddress } from '@ambient/state';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../sources/source.js';
import {
  convert,
  namespace,
  pod,
  podWorkload,
  service,
  serviceEntry,
  serviceOf,
  waypoint,
  workloadEntry,
  workloadOf,
} from './test-objects.js';

const USE = 'istio.io/use-waypoint';
const USE_NS = 'istio.io/use-waypoint-namespace';
const FOR = 'istio.io/waypoint-for';
const APP_KEY = 'default/app.default.svc.cluster.local';

const hostnameForm = (name: string, ns: string): GatewayAddress => ({
  kind: 'hostname',
  namespace: ns,
  hostname: `${name}.${ns}.svc.cluster.local`,
  hboneMtlsPort: 15008,
});
const addressForm = (ip: string): GatewayAddress => ({
  kind: 'address',
  network: '',
  ip,
  hboneMtlsPort: 15008,
});

/** The app Service (with the given labels) and its pod. */
function app(
  serviceLabels: Record<string, string> = {},
  podLabels: Record<string, string> = {},
): KubeObject[] {
  return [
    service('app', { ip: '10.96.0.10', selector: { app: 'app' }, labels: serviceLabels }),
    pod('app', { labels: { app: 'app', ...podLabels } }),
  ];
}

describe('waypoint addresses', () => {
  it('is the VIP of the Service named like the Gateway, when it has one', () => {
    const result = convert([
      waypoint('wp'),
      service('wp', { ip: '10.96.0.99', ports: [{ port: 15008 }] }),
      ...app({ [USE]: 'wp' }),
    ]);
    expect(result.problems).toEqual([]);
    expect(serviceOf(result, APP_KEY).waypoint).toEqual(addressForm('10.96.0.99'));
  });

  it('is the Gateway hostname when no such Service has a VIP', () => {
    const result = convert([waypoint('wp'), ...app({ [USE]: 'wp' })]);
    expect(result.problems).toEqual([]);
    expect(serviceOf(result, APP_KEY).waypoint).toEqual(hostnameForm('wp', 'default'));
  });

  it('is never set on the waypoint’s own Service', () => {
    const result = convert([
      namespace('default', { [USE]: 'wp' }),
      waypoint('wp'),
      service('wp', { ip: '10.96.0.99', ports: [{ port: 15008 }] }),
      service('managed', {
        ip: '10.96.0.98',
        labels: { 'gateway.istio.io/managed': 'istio.io-mesh-controller' },
      }),
    ]);
    expect(serviceOf(result, 'default/wp.default.svc.cluster.local').waypoint).toBeUndefined();
    expect(serviceOf(result, 'default/managed.default.svc.cluster.local').waypoint).toBeUndefined();
  });
});

describe('waypoint binding', () => {
  it('binds a Service through its namespace label', () => {
    const result = convert([namespace('default', { [USE]: 'wp' }), waypoint('wp'), ...app()]);
    expect(serviceOf(result, APP_KEY).waypoint).toEqual(hostnameForm('wp', 'default'));
  });

  it('binds a ServiceEntry’s services like a Service', () => {
    const result = convert([
      waypoint('wp'),
      serviceEntry(
        'ext',
        { hosts: ['a.example.com'], ports: [{ number: 80, name: 'http' }] },
        { labels: { [USE]: 'wp' } },
      ),
    ]);
    expect(serviceOf(result, 'default/a.example.com').waypoint).toEqual(hostnameForm('wp', 'default'));
  });

  it('an object label wins over its namespace label', () => {
    const result = convert([
      namespace('default', { [USE]: 'ns-wp' }),
      waypoint('ns-wp'),
      waypoint('own-wp'),
      ...app({ [USE]: 'own-wp' }),
    ]);
    expect(serviceOf(result, APP_KEY).waypoint).toEqual(hostnameForm('own-wp', 'default'));
  });

  it('a use-waypoint: none label opts the object out of its namespace waypoint', () => {
    const result = convert([
      namespace('default', { [USE]: 'wp' }),
      waypoint('wp'),
      ...app({ [USE]: 'none' }),
    ]);
    expect(result.problems).toEqual([]);
    expect(serviceOf(result, APP_KEY).waypoint).toBeUndefined();
  });

  it('use-waypoint-namespace names the Gateway’s namespace (which must accept the caller)', () => {
    const result = convert([
      waypoint('shared', { namespace: 'infra' }, { namespaces: { from: 'All' } }),
      ...app({ [USE]: 'shared', [USE_NS]: 'infra' }),
    ]);
    expect(result.problems).toEqual([]);
    expect(serviceOf(result, APP_KEY).waypoint).toEqual(hostnameForm('shared', 'infra'));
  });

  it('a waypoint of another namespace that only accepts its own is not used, and reported', () => {
    const result = convert([
      waypoint('private', { namespace: 'infra' }),
      ...app({ [USE]: 'private', [USE_NS]: 'infra' }),
    ]);
    expect(serviceOf(result, APP_KEY).waypoint).toBeUndefined();
    expect(result.problems).toEqual([
      expect.objectContaining({ object: 'Service default/app', field: `metadata.labels["${USE}"]` }),
    ]);
  });

  it('a namespace selector on the HBONE listener decides which namespaces may use it', () => {
    const allowed = { namespaces: { from: 'Selector', selector: { matchLabels: { mesh: 'yes' } } } };
    const objects = (labels: Record<string, string>): KubeObject[] => [
      namespace('default', { [USE]: 'shared', [USE_NS]: 'infra', ...labels }),
      waypoint('shared', { namespace: 'infra' }, allowed),
      ...app(),
    ];
    expect(serviceOf(convert(objects({ mesh: 'yes' })), APP_KEY).waypoint).toEqual(
      hostnameForm('shared', 'infra'),
    );
    expect(serviceOf(convert(objects({})), APP_KEY).waypoint).toBeUndefined();
  });
});

describe('waypoint traffic types (istio.io/waypoint-for)', () => {
  it.each<{ waypointFor: string | undefined; service: boolean; workload: boolean }>([
    { waypointFor: undefined, service: true, workload: false },
    { waypointFor: 'service', service: true, workload: false },
    { waypointFor: 'workload', service: false, workload: true },
    { waypointFor: 'all', service: true, workload: true },
    { waypointFor: 'none', service: false, workload: false },
  ])(
    '$waypointFor: services $service, workloads $workload',
    ({ waypointFor, service: toService, workload }) => {
      const labels = waypointFor === undefined ? {} : { [FOR]: waypointFor };
      const result = convert([namespace('default', { [USE]: 'wp' }), waypoint('wp', { labels }), ...app()]);
      expect(result.problems).toEqual([]);
      expect(serviceOf(result, APP_KEY).waypoint).toEqual(
        toService ? hostnameForm('wp', 'default') : undefined,
      );
      expect(podWorkload(result, 'app').waypoint).toEqual(
        workload ? hostnameForm('wp', 'default') : undefined,
      );
    },
  );

  it('binds a WorkloadEntry like a pod', () => {
    const result = convert([
      waypoint('wp', { labels: { [FOR]: 'workload' } }),
      workloadEntry('vm', { address: '10.8.0.1' }, { labels: { [USE]: 'wp' } }),
    ]);
    const vm = workloadOf(result, 'Kubernetes/networking.istio.io/WorkloadEntry/default/vm');
    expect(vm.waypoint).toEqual(hostnameForm('wp', 'default'));
  });

  it('a pod labelled for a service-only waypoint gets none, and it is reported', () => {
    const result = convert([waypoint('wp'), ...app({}, { [USE]: 'wp' })]);
    expect(podWorkload(result, 'app').waypoint).toBeUndefined();
    expect(result.problems).toEqual([
      expect.objectContaining({ object: 'Pod default/app', field: `metadata.labels["${USE}"]` }),
    ]);
  });

  it('the waypoint’s own pods never get a waypoint', () => {
    const result = convert([
      namespace('default', { [USE]: 'wp' }),
      waypoint('wp', { labels: { [FOR]: 'all' } }),
      pod('wp-pod', { labels: { 'gateway.networking.k8s.io/gateway-name': 'wp' } }),
    ]);
    expect(podWorkload(result, 'wp-pod').waypoint).toBeUndefined();
  });
});

describe('a waypoint that does not exist: reported, and traffic fails closed', () => {
  it.each<{ name: string; objects: KubeObject[]; message: RegExp }>([
    { name: 'no such Gateway', objects: [], message: /no Gateway default\/wp/ },
    {
      name: 'a Gateway of another class',
      objects: [waypoint('wp', {}, undefined, 'istio')],
      message: /not a waypoint/,
    },
  ])('$name, labelled on the Service', ({ objects, message }) => {
    const result = convert([...objects, ...app({ [USE]: 'wp' })]);
    expect(serviceOf(result, APP_KEY).waypoint).toEqual(hostnameForm('wp', 'default'));
    expect(result.problems).toEqual([
      expect.objectContaining({
        origin: `test.yaml#${String(objects.length + 1)}`,
        object: 'Service default/app',
        field: `metadata.labels["${USE}"]`,
        message: expect.stringMatching(message) as unknown,
      }),
    ]);
  });

  it('labelled on a pod: the pod gets the hostname waypoint too', () => {
    const result = convert([...app({}, { [USE]: 'wp' })]);
    expect(podWorkload(result, 'app').waypoint).toEqual(hostnameForm('wp', 'default'));
    expect(result.problems).toEqual([expect.objectContaining({ object: 'Pod default/app' })]);
  });

  it('labelled on the namespace: reported once, on the Namespace; its services fail closed', () => {
    const result = convert([
      namespace('default', { [USE]: 'wp' }),
      ...app(),
      service('second', { ip: '10.96.0.11', selector: { app: 'app' } }),
    ]);
    expect(serviceOf(result, APP_KEY).waypoint).toEqual(hostnameForm('wp', 'default'));
    expect(serviceOf(result, 'default/second.default.svc.cluster.local').waypoint).toEqual(
      hostnameForm('wp', 'default'),
    );
    // Pods inherit only service-traffic waypoints by default, so the pod stays direct.
    expect(podWorkload(result, 'app').waypoint).toBeUndefined();
    expect(result.problems).toEqual([
      expect.objectContaining({
        origin: 'test.yaml#1',
        object: 'Namespace default',
        field: `metadata.labels["${USE}"]`,
      }),
    ]);
  });
});
