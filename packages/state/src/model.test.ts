import { describe, expect, it } from 'vitest';
import { createService, createWorkload, serviceKey } from './model.js';

describe('createWorkload', () => {
  const minimal = { uid: 'u1', name: 'a', namespace: 'ns', workloadIps: ['10.0.0.1'] };

  it.each([
    ['trustDomain', {}, 'cluster.local'],
    ['trustDomain', { trustDomain: '' }, 'cluster.local'],
    ['trustDomain', { trustDomain: 'example.org' }, 'example.org'],
    ['serviceAccount', {}, 'default'],
    ['serviceAccount', { serviceAccount: '' }, 'default'],
    ['serviceAccount', { serviceAccount: 'echo' }, 'echo'],
    ['clusterId', {}, 'Kubernetes'],
    ['clusterId', { clusterId: '' }, 'Kubernetes'],
    ['clusterId', { clusterId: 'east' }, 'east'],
    ['network', {}, ''],
    ['tunnelProtocol', {}, 'NONE'],
    ['status', {}, 'Healthy'],
    ['workloadType', {}, 'deployment'],
    ['node', {}, ''],
  ] as const)('%s from %j is %s', (field, extra, expected) => {
    expect(createWorkload({ ...minimal, ...extra })[field]).toBe(expected);
  });

  it('derives the SPIFFE identity from the defaulted fields', () => {
    expect(createWorkload(minimal).identity).toBe('spiffe://cluster.local/ns/ns/sa/default');
    expect(createWorkload({ ...minimal, trustDomain: 'td', serviceAccount: 'sa' }).identity).toBe(
      'spiffe://td/ns/ns/sa/sa',
    );
  });

  it('normalises IPv4-mapped IPv6 addresses', () => {
    expect(createWorkload({ ...minimal, workloadIps: ['::ffff:10.0.0.2', '::1'] }).workloadIps).toEqual([
      '10.0.0.2',
      '::1',
    ]);
  });

  it('is frozen, and copies what it was given', () => {
    const ips = ['10.0.0.1'];
    const workload = createWorkload({
      ...minimal,
      workloadIps: ips,
      locality: { region: 'r', zone: 'z', subzone: '' },
    });
    ips.push('10.0.0.9');
    expect(workload.workloadIps).toEqual(['10.0.0.1']);
    expect(Object.isFrozen(workload)).toBe(true);
    expect(Object.isFrozen(workload.workloadIps)).toBe(true);
    expect(Object.isFrozen(workload.locality)).toBe(true);
    expect('locality' in createWorkload(minimal)).toBe(false);
  });
});

describe('createService', () => {
  it('derives the key and normalises VIPs', () => {
    const service = createService({
      name: 'echo',
      namespace: 'default',
      hostname: 'echo.default.svc.cluster.local',
      vips: [{ network: '', ip: '::ffff:10.1.0.1' }],
      ports: [{ servicePort: 80, targetPort: 8080 }],
    });
    expect(service.key).toBe('default/echo.default.svc.cluster.local');
    expect(service.key).toBe(serviceKey('default', 'echo.default.svc.cluster.local'));
    expect(service.vips).toEqual([{ network: '', ip: '10.1.0.1' }]);
    expect(service.subjectAltNames).toEqual([]);
    expect(Object.isFrozen(service)).toBe(true);
    expect(Object.isFrozen(service.ports[0])).toBe(true);
  });
});
