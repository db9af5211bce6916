import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../sources/source.js';
import {
  AMBIENT_DEFAULT,
  convert,
  namespace,
  pod,
  podWorkload,
  service,
  servicesOf,
  type PodOptions,
} from './test-objects.js';

describe('enrollment: which pods ztunnel reaches over HBONE', () => {
  const ambientLabel = { 'istio.io/dataplane-mode': 'ambient' };
  const optOut = { 'istio.io/dataplane-mode': 'none' };
  it.each<{
    name: string;
    namespaceLabels: Record<string, string> | undefined;
    pod: PodOptions;
    want: string;
  }>([
    { name: 'pod in an ambient namespace', namespaceLabels: ambientLabel, pod: {}, want: 'HBONE' },
    { name: 'pod in a plain namespace', namespaceLabels: {}, pod: {}, want: 'NONE' },
    {
      name: 'pod whose namespace has no Namespace object',
      namespaceLabels: undefined,
      pod: {},
      want: 'NONE',
    },
    {
      name: 'pod labelled ambient in a plain namespace',
      namespaceLabels: {},
      pod: { labels: ambientLabel },
      want: 'HBONE',
    },
    {
      name: 'pod opted out in an ambient namespace',
      namespaceLabels: ambientLabel,
      pod: { labels: optOut },
      want: 'NONE',
    },
    {
      name: 'hostNetwork pod in an ambient namespace',
      namespaceLabels: ambientLabel,
      pod: { hostNetwork: true },
      want: 'NONE',
    },
    {
      name: 'hostNetwork pod labelled ambient',
      namespaceLabels: {},
      pod: { hostNetwork: true, labels: ambientLabel },
      want: 'NONE',
    },
    {
      name: 'pod istio-cni reports as redirected',
      namespaceLabels: {},
      pod: { annotations: { 'ambient.istio.io/redirection': 'enabled' } },
      want: 'HBONE',
    },
  ])('$name → $want', ({ namespaceLabels, pod: options, want }) => {
    const objects: KubeObject[] = [pod('p', options)];
    if (namespaceLabels !== undefined) objects.unshift(namespace('default', namespaceLabels));
    const result = convert(objects);
    expect(result.problems).toEqual([]);
    expect(podWorkload(result, 'p').tunnelProtocol).toBe(want);
  });
});

describe('pod → workload fields', () => {
  it('carries uid, addresses, node, service account, trust domain and cluster', () => {
    const result = convert(
      [
        AMBIENT_DEFAULT,
        pod('echo', { ips: ['10.1.0.5', 'fd00::5'], node: 'node-a', serviceAccount: 'echo-sa' }),
      ],
      { clusterId: 'east', trustDomain: 'example.org', network: 'net-1' },
    );
    expect(result.problems).toEqual([]);
    const workload = result.snapshot.workloads[0];
    expect(workload).toMatchObject({
      uid: 'east//Pod/default/echo',
      name: 'echo',
      namespace: 'default',
      workloadIps: ['10.1.0.5', 'fd00::5'],
      network: 'net-1',
      node: 'node-a',
      serviceAccount: 'echo-sa',
      trustDomain: 'example.org',
      clusterId: 'east',
      identity: 'spiffe://example.org/ns/default/sa/echo-sa',
    });
  });

  it('takes status.podIP when podIPs is absent', () => {
    const object = pod('p');
    const status = { phase: 'Running', podIP: '10.9.9.9' };
    const result = convert([{ ...object, status }]);
    expect(podWorkload(result, 'p').workloadIps).toEqual(['10.9.9.9']);
  });

  it('puts a pod without a namespace in default', () => {
    const result = convert([pod('p')]);
    expect(podWorkload(result, 'p').namespace).toBe('default');
  });

  it.each<{ name: string; options: PodOptions }>([
    { name: 'not scheduled yet (no IP)', options: { ip: null, phase: 'Pending' } },
    { name: 'finished (Succeeded)', options: { phase: 'Succeeded' } },
    { name: 'failed', options: { phase: 'Failed' } },
  ])('skips a pod that is $name, without a problem', ({ options }) => {
    const result = convert([pod('p', options)]);
    expect(result.snapshot.workloads).toEqual([]);
    expect(result.problems).toEqual([]);
  });

  it.each<{ name: string; options: PodOptions; want: string }>([
    { name: 'Running and Ready', options: { ready: 'True' }, want: 'Healthy' },
    { name: 'Running without conditions', options: {}, want: 'Healthy' },
    { name: 'Running but not Ready', options: { ready: 'False' }, want: 'Unhealthy' },
    { name: 'Pending with an IP', options: { phase: 'Pending' }, want: 'Unhealthy' },
    { name: 'being deleted', options: { ready: 'True', deleting: true }, want: 'Unhealthy' },
  ])('status: $name → $want', ({ options, want }) => {
    expect(podWorkload(convert([pod('p', options)]), 'p').status).toBe(want);
  });

  it.each<{ name: string; options: PodOptions; want: object }>([
    {
      name: 'a Deployment (ReplicaSet name-<hash>, pod-template-hash)',
      options: {
        labels: { 'pod-template-hash': '7d4b9c' },
        owners: [{ kind: 'ReplicaSet', name: 'reviews-v1-7d4b9c', controller: true }],
      },
      want: { workloadName: 'reviews-v1', workloadType: 'deployment' },
    },
    {
      name: 'a Deployment written by hand (no pod-template-hash)',
      options: { owners: [{ kind: 'ReplicaSet', name: 'ratings-5f6d8' }] },
      want: { workloadName: 'ratings', workloadType: 'deployment' },
    },
    {
      name: 'a Job',
      options: { owners: [{ kind: 'Job', name: 'migrate', controller: true }] },
      want: { workloadName: 'migrate', workloadType: 'job' },
    },
    {
      name: 'a CronJob (Job <name>-<minutes>)',
      options: { owners: [{ kind: 'Job', name: 'backup-28930140', controller: true }] },
      want: { workloadName: 'backup', workloadType: 'cronjob' },
    },
    {
      name: 'a StatefulSet',
      options: { owners: [{ kind: 'StatefulSet', name: 'db', controller: true }] },
      want: { workloadName: 'db', workloadType: 'pod' },
    },
    { name: 'no owner', options: {}, want: { workloadName: 'p', workloadType: 'pod' } },
    {
      name: 'a workload-name label',
      options: {
        labels: { 'service.istio.io/workload-name': 'custom' },
        owners: [{ kind: 'ReplicaSet', name: 'x-1', controller: true }],
      },
      want: { workloadName: 'custom', workloadType: 'deployment' },
    },
  ])('workload name and type of $name', ({ options, want }) => {
    expect(podWorkload(convert([pod('p', options)]), 'p')).toMatchObject(want);
  });

  it.each<{ name: string; labels: Record<string, string>; want: object }>([
    {
      name: 'Istio canonical labels first',
      labels: {
        'service.istio.io/canonical-name': 'c',
        'app.kubernetes.io/name': 'k',
        app: 'a',
        'service.istio.io/canonical-revision': 'r1',
        'app.kubernetes.io/version': 'r2',
        version: 'r3',
      },
      want: { canonicalName: 'c', canonicalRevision: 'r1' },
    },
    {
      name: 'then app.kubernetes.io',
      labels: { 'app.kubernetes.io/name': 'k', app: 'a', 'app.kubernetes.io/version': 'r2', version: 'r3' },
      want: { canonicalName: 'k', canonicalRevision: 'r2' },
    },
    {
      name: 'then app and version',
      labels: { app: 'a', version: 'r3' },
      want: { canonicalName: 'a', canonicalRevision: 'r3' },
    },
    {
      name: 'else the workload name and latest',
      labels: {},
      want: { canonicalName: 'p', canonicalRevision: 'latest' },
    },
  ])('canonical service: $name', ({ labels, want }) => {
    expect(podWorkload(convert([pod('p', { labels })]), 'p')).toMatchObject(want);
  });
});

describe('services selecting pods', () => {
  const web = { app: 'web' };

  it('lists every Service of the namespace whose selector matches, with its port mapping', () => {
    const result = convert([
      pod('w', { labels: { ...web, tier: 'front' } }),
      service('web', { ip: '10.96.0.1', selector: web }),
      service('front', {
        ip: '10.96.0.2',
        selector: { tier: 'front' },
        ports: [{ port: 443, targetPort: 8443 }],
      }),
      service('both', { ip: '10.96.0.3', selector: { ...web, tier: 'back' } }),
      service('other-ns', { ip: '10.96.0.4', selector: web, namespace: 'other' }),
      service('no-selector', { ip: '10.96.0.5' }),
      service('empty-selector', { ip: '10.96.0.6', selector: {} }),
    ]);
    expect(result.problems).toEqual([]);
    expect(servicesOf(podWorkload(result, 'w'))).toEqual({
      'default/web.default.svc.cluster.local': { 80: 8080 },
      'default/front.default.svc.cluster.local': { 443: 8443 },
    });
  });

  it.each<{ name: string; targetPort: number | string | undefined; want: Record<number, number> }>([
    { name: 'a numeric targetPort', targetPort: 9000, want: { 80: 9000 } },
    { name: 'no targetPort (the port itself)', targetPort: undefined, want: { 80: 80 } },
    { name: 'a named targetPort the pod declares', targetPort: 'http-alt', want: { 80: 8081 } },
    { name: 'a named targetPort the pod lacks (port left out)', targetPort: 'grpc', want: {} },
    { name: 'a name only a UDP container port has', targetPort: 'dns', want: {} },
  ])('maps $name', ({ targetPort, want }) => {
    const result = convert([
      pod('w', {
        labels: web,
        containerPorts: [
          { name: 'http-alt', containerPort: 8081 },
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
        ],
      }),
      service('web', {
        ip: '10.96.0.1',
        selector: web,
        ports: [{ port: 80, ...(targetPort === undefined ? {} : { targetPort }) }],
      }),
    ]);
    expect(servicesOf(podWorkload(result, 'w'))).toEqual({ 'default/web.default.svc.cluster.local': want });
  });

  it('resolves a named targetPort per pod: two pods, two numbers', () => {
    const result = convert([
      pod('a', { ip: '10.0.0.1', labels: web, containerPorts: [{ name: 'http', containerPort: 8080 }] }),
      pod('b', { ip: '10.0.0.2', labels: web, containerPorts: [{ name: 'http', containerPort: 9090 }] }),
      service('web', { ip: '10.96.0.1', selector: web, ports: [{ port: 80, targetPort: 'http' }] }),
    ]);
    const key = 'default/web.default.svc.cluster.local';
    expect(servicesOf(podWorkload(result, 'a'))[key]).toEqual({ 80: 8080 });
    expect(servicesOf(podWorkload(result, 'b'))[key]).toEqual({ 80: 9090 });
  });
});

describe('Service → service', () => {
  it('has its hostname, VIPs and ports (a named targetPort is 0: each endpoint knows its own)', () => {
    const object = service('web', {
      ports: [
        { port: 80, targetPort: 8080, name: 'http' },
        { port: 9090, targetPort: 'metrics', name: 'metrics' },
        { port: 7000, name: 'plain' },
      ],
    });
    const spec = { ...(object.spec as object), clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1', 'fd00::1'] };
    const result = convert([{ ...object, spec }], { domainSuffix: 'corp.local', network: 'n1' });
    expect(result.problems).toEqual([]);
    expect(result.snapshot.services).toEqual([
      expect.objectContaining({
        name: 'web',
        namespace: 'default',
        hostname: 'web.default.svc.corp.local',
        key: 'default/web.default.svc.corp.local',
        vips: [
          { network: 'n1', ip: '10.96.0.1' },
          { network: 'n1', ip: 'fd00::1' },
        ],
        ports: [
          { servicePort: 80, targetPort: 8080 },
          { servicePort: 9090, targetPort: 0 },
          { servicePort: 7000, targetPort: 7000 },
        ],
      }),
    ]);
  });

  it('a headless Service has no VIP; an ExternalName Service is not sent', () => {
    const result = convert([
      service('headless', { ip: 'None', selector: { app: 'x' } }),
      service('external', { type: 'ExternalName' }),
    ]);
    expect(result.snapshot.services.map((s) => [s.name, s.vips])).toEqual([['headless', []]]);
  });
});
