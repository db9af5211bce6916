import { describe, expect, it } from 'vitest';
import {
  AMBIENT_DEFAULT,
  convert,
  pod,
  podWorkload,
  service,
  serviceEntry,
  serviceOf,
  servicesOf,
  workloadEntry,
  workloadOf,
} from './test-objects.js';

const SE_UID = 'Kubernetes/networking.istio.io/ServiceEntry/default/ext';

describe('ServiceEntry with endpoints', () => {
  const entry = serviceEntry(
    'ext',
    {
      hosts: ['api.example.com', 'api2.example.com'],
      addresses: ['240.0.0.1'],
      ports: [
        { number: 80, name: 'http', targetPort: 8080 },
        { number: 443, name: 'https' },
      ],
      subjectAltNames: ['spiffe://example.com/api'],
      endpoints: [
        { address: '10.5.0.1', serviceAccount: 'api', ports: { https: 9443 }, locality: 'us/east-1/a' },
        { address: '10.5.0.2', network: 'remote', labels: { version: 'v2' } },
      ],
    },
    { labels: { app: 'api' } },
  );

  it('makes one service per host, named after the entry, with its VIPs and ports', () => {
    const result = convert([AMBIENT_DEFAULT, entry]);
    expect(result.problems).toEqual([]);
    const hosts = ['api.example.com', 'api2.example.com'];
    for (const host of hosts) {
      expect(serviceOf(result, `default/${host}`)).toMatchObject({
        name: 'ext',
        namespace: 'default',
        hostname: host,
        vips: [{ network: '', ip: '240.0.0.1' }],
        ports: [
          { servicePort: 80, targetPort: 8080 },
          { servicePort: 443, targetPort: 443 },
        ],
        subjectAltNames: ['spiffe://example.com/api'],
      });
    }
  });

  it('makes each endpoint a workload of every host, with the endpoint port named like the service port', () => {
    const result = convert([AMBIENT_DEFAULT, entry]);
    const first = workloadOf(result, `${SE_UID}/10.5.0.1`);
    expect(first).toMatchObject({
      name: 'ext',
      namespace: 'default',
      workloadIps: ['10.5.0.1'],
      serviceAccount: 'api',
      tunnelProtocol: 'HBONE',
      workloadName: 'ext',
      workloadType: 'pod',
      canonicalName: 'api',
      status: 'Healthy',
      locality: { region: 'us', zone: 'east-1', subzone: 'a' },
    });
    expect(servicesOf(first)).toEqual({
      'default/api.example.com': { 80: 8080, 443: 9443 },
      'default/api2.example.com': { 80: 8080, 443: 9443 },
    });
    const second = workloadOf(result, `${SE_UID}/10.5.0.2`);
    expect(second.network).toBe('remote');
    expect(servicesOf(second)['default/api.example.com']).toEqual({ 80: 8080, 443: 443 });
  });

  it('enrolls endpoints by their namespace', () => {
    const result = convert([entry]);
    expect(workloadOf(result, `${SE_UID}/10.5.0.1`).tunnelProtocol).toBe('NONE');
  });

  it('reports endpoints it cannot address and CIDR VIPs, and converts the rest', () => {
    const result = convert([
      serviceEntry('ext', {
        hosts: ['db.example.com'],
        addresses: ['10.20.0.0/16', '10.30.0.7/32'],
        ports: [{ number: 5432, name: 'pg' }],
        endpoints: [{ address: 'db.example.com' }, { address: '10.5.0.9' }],
      }),
    ]);
    expect(result.problems).toEqual([
      expect.objectContaining({
        origin: 'test.yaml#1',
        object: 'ServiceEntry default/ext',
        field: 'spec.addresses[0]',
      }),
      expect.objectContaining({ field: 'spec.endpoints[0].address' }),
    ]);
    expect(serviceOf(result, 'default/db.example.com').vips).toEqual([{ network: '', ip: '10.30.0.7' }]);
    expect(result.snapshot.workloads.map((w) => w.uid)).toEqual([`${SE_UID}/10.5.0.9`]);
  });

  it('a host already taken is reported and left out; the older claim keeps it', () => {
    const result = convert([
      serviceEntry('newer', { hosts: ['shared.example.com'] }, { creationTimestamp: '2026-02-01T00:00:00Z' }),
      serviceEntry('older', { hosts: ['shared.example.com'] }, { creationTimestamp: '2026-01-01T00:00:00Z' }),
    ]);
    expect(serviceOf(result, 'default/shared.example.com').name).toBe('older');
    expect(result.problems).toEqual([
      expect.objectContaining({ object: 'ServiceEntry default/newer', field: 'spec.hosts[0]' }),
    ]);
  });
});

describe('ServiceEntry with workloadSelector', () => {
  const entry = serviceEntry('vm-api', {
    hosts: ['vm-api.internal'],
    ports: [
      { number: 80, name: 'http' },
      { number: 9000, name: 'admin', targetPort: 9001 },
    ],
    workloadSelector: { labels: { app: 'api' } },
  });

  it('selects pods of its namespace: a container port named like the service port wins', () => {
    const result = convert([
      entry,
      pod('api', { labels: { app: 'api' }, containerPorts: [{ name: 'http', containerPort: 8080 }] }),
      pod('other', { ip: '10.0.0.2', labels: { app: 'other' } }),
      pod('elsewhere', { ip: '10.0.0.3', labels: { app: 'api' }, namespace: 'other' }),
    ]);
    expect(result.problems).toEqual([]);
    expect(servicesOf(podWorkload(result, 'api'))).toEqual({
      'default/vm-api.internal': { 80: 8080, 9000: 9001 },
    });
    expect(servicesOf(podWorkload(result, 'other'))).toEqual({});
    expect(servicesOf(podWorkload(result, 'elsewhere', 'other'))).toEqual({});
  });

  it('selects WorkloadEntries: an entry port named like the service port wins', () => {
    const result = convert([
      entry,
      workloadEntry('vm', { address: '10.8.0.1', labels: { app: 'api' }, ports: { admin: 9999 } }),
    ]);
    expect(result.problems).toEqual([]);
    const vm = workloadOf(result, 'Kubernetes/networking.istio.io/WorkloadEntry/default/vm');
    expect(servicesOf(vm)).toEqual({ 'default/vm-api.internal': { 80: 80, 9000: 9999 } });
  });
});

describe('WorkloadEntry → workload', () => {
  it('carries address, labels, service account, network and enrollment', () => {
    const result = convert([
      AMBIENT_DEFAULT,
      workloadEntry(
        'vm-1',
        {
          address: '10.8.0.1',
          serviceAccount: 'vm-sa',
          network: 'vm-net',
          labels: { app: 'legacy', version: 'v7' },
        },
        { labels: { team: 'a' } },
      ),
    ]);
    expect(result.problems).toEqual([]);
    expect(workloadOf(result, 'Kubernetes/networking.istio.io/WorkloadEntry/default/vm-1')).toMatchObject({
      name: 'vm-1',
      namespace: 'default',
      workloadIps: ['10.8.0.1'],
      serviceAccount: 'vm-sa',
      network: 'vm-net',
      tunnelProtocol: 'HBONE',
      workloadName: 'vm-1',
      workloadType: 'pod',
      canonicalName: 'legacy',
      canonicalRevision: 'v7',
    });
  });

  it('is opted out by its own dataplane-mode label', () => {
    const result = convert([
      AMBIENT_DEFAULT,
      workloadEntry('vm-1', { address: '10.8.0.1' }, { labels: { 'istio.io/dataplane-mode': 'none' } }),
    ]);
    expect(result.snapshot.workloads[0]?.tunnelProtocol).toBe('NONE');
  });

  it('is selected by a Kubernetes Service; a named targetPort resolves against its ports', () => {
    const result = convert([
      workloadEntry('vm-1', { address: '10.8.0.1', labels: { app: 'web' }, ports: { web: 8088 } }),
      service('web', {
        ip: '10.96.0.1',
        selector: { app: 'web' },
        ports: [
          { port: 80, targetPort: 'web', name: 'http' },
          { port: 81, targetPort: 'missing', name: 'other' },
        ],
      }),
    ]);
    const vm = workloadOf(result, 'Kubernetes/networking.istio.io/WorkloadEntry/default/vm-1');
    expect(servicesOf(vm)).toEqual({ 'default/web.default.svc.cluster.local': { 80: 8088 } });
  });

  it('without an IP address is reported and left out', () => {
    const result = convert([workloadEntry('vm-1', { address: 'vm1.example.com' })]);
    expect(result.snapshot.workloads).toEqual([]);
    expect(result.problems).toEqual([
      expect.objectContaining({ object: 'WorkloadEntry default/vm-1', field: 'spec.address' }),
    ]);
  });
});
