import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../sources/source.js';
import {
  AMBIENT_DEFAULT,
  authorizationPolicy,
  convert,
  pod,
  podWorkload,
  policyOf,
  service,
  serviceEntry,
  serviceOf,
} from './test-objects.js';

describe('invalid objects', () => {
  it('are reported with every problem, field by field, and left out while the rest converts', () => {
    const broken: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'broken', labels: { version: 2 as unknown as string } },
      spec: { nodeName: 7, containers: [{ name: 'app', ports: [{ containerPort: 'http' }] }] },
      status: { podIP: '10.0.0.9' },
    };
    const result = convert([AMBIENT_DEFAULT, broken, pod('fine', { ip: '10.0.0.2' })]);
    expect(result.snapshot.workloads.map((w) => w.name)).toEqual(['fine']);
    expect(result.problems).toEqual([
      {
        origin: 'test.yaml#2',
        object: 'Pod default/broken',
        field: 'metadata.labels.version',
        message: 'expected string, got 2',
      },
      {
        origin: 'test.yaml#2',
        object: 'Pod default/broken',
        field: 'spec.containers[0].ports[0].containerPort',
        message: 'expected integer, got "http"',
      },
      {
        origin: 'test.yaml#2',
        object: 'Pod default/broken',
        field: 'spec.nodeName',
        message: 'expected string, got 7',
      },
    ]);
  });

  it.each<{ name: string; object: KubeObject; field: string; message: RegExp }>([
    {
      name: 'a missing required field',
      object: serviceEntry('se', { ports: [{ number: 80, name: 'http' }] }),
      field: 'spec.hosts',
      message: /^required$/,
    },
    {
      name: 'a value outside the enum',
      object: authorizationPolicy('ap', { action: 'MAYBE' }),
      field: 'spec.action',
      message: /"MAYBE" is not one of ALLOW, DENY, AUDIT, CUSTOM/,
    },
    {
      name: 'an int-or-string that is neither',
      object: service('svc', { ports: [{ port: 80, targetPort: true as unknown as number }] }),
      field: 'spec.ports[0].targetPort',
      message: /expected .*integer.* got true/,
    },
    {
      name: 'a missing name',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { containers: [] } },
      field: 'metadata.name',
      message: /^required$/,
    },
    {
      name: 'a label key that needs quoting',
      object: pod('p', { labels: { 'app.kubernetes.io/name': false as unknown as string } }),
      field: 'metadata.labels["app.kubernetes.io/name"]',
      message: /expected string/,
    },
  ])('$name: reported at its field', ({ object, field, message }) => {
    const result = convert([object]);
    expect(result.problems).toEqual([
      expect.objectContaining({
        origin: 'test.yaml#1',
        field,
        message: expect.stringMatching(message) as unknown,
      }),
    ]);
    expect(result.snapshot.workloads).toEqual([]);
    expect(result.snapshot.services).toEqual([]);
    expect(result.snapshot.authorizations).toEqual([]);
  });
});

describe('kinds and versions', () => {
  it.each([
    { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService' },
    { apiVersion: 'networking.istio.io/v1', kind: 'Gateway' },
    { apiVersion: 'apps/v1', kind: 'Deployment' },
    { apiVersion: 'v1', kind: 'ConfigMap' },
  ])('$kind ($apiVersion) is reported as unsupported', ({ apiVersion, kind }) => {
    const result = convert([{ apiVersion, kind, metadata: { name: 'x' } }]);
    expect(result.problems).toEqual([
      expect.objectContaining({
        object: `${kind} default/x`,
        field: 'kind',
        message: expect.stringMatching(/^unsupported kind/) as unknown,
      }),
    ]);
  });

  it('an unknown version of a supported kind is reported at apiVersion', () => {
    const result = convert([{ ...authorizationPolicy('ap', {}), apiVersion: 'security.istio.io/v2' }]);
    expect(result.problems).toEqual([
      expect.objectContaining({
        field: 'apiVersion',
        message: expect.stringMatching(/security.istio.io\/v1beta1/) as unknown,
      }),
    ]);
  });

  it.each([
    { apiVersion: 'security.istio.io/v1beta1', make: () => authorizationPolicy('ap', {}), key: 'default/ap' },
    {
      apiVersion: 'networking.istio.io/v1alpha3',
      make: () => serviceEntry('se', { hosts: ['a.example.com'] }),
      key: 'default/a.example.com',
    },
    {
      apiVersion: 'networking.istio.io/v1beta1',
      make: () => serviceEntry('se', { hosts: ['a.example.com'] }),
      key: 'default/a.example.com',
    },
  ])('older API version $apiVersion is accepted', ({ apiVersion, make, key }) => {
    const result = convert([{ ...make(), apiVersion }]);
    expect(result.problems).toEqual([]);
    const found = [
      ...result.snapshot.services.map((s) => s.key),
      ...(result.snapshot.authorizations ?? []).map((a) => a.key),
    ];
    expect(found).toEqual([key]);
  });
});

describe('duplicates', () => {
  it('the later of two objects with the same kind, namespace and name is reported and left out', () => {
    const result = convert([
      pod('p', { ip: '10.0.0.1' }),
      pod('p', { ip: '10.0.0.2' }),
      pod('p', { ip: '10.0.0.3', namespace: 'other' }),
    ]);
    expect(podWorkload(result, 'p').workloadIps).toEqual(['10.0.0.1']);
    expect(podWorkload(result, 'p', 'other').workloadIps).toEqual(['10.0.0.3']);
    expect(result.problems).toEqual([
      {
        origin: 'test.yaml#2',
        object: 'Pod default/p',
        field: 'metadata.name',
        message: 'duplicate: Pod default/p is already defined in test.yaml#1',
      },
    ]);
  });

  it('the same name in different kinds is no duplicate', () => {
    const result = convert([service('x', { ip: '10.96.0.1' }), authorizationPolicy('x', {})]);
    expect(result.problems).toEqual([]);
    expect(serviceOf(result, 'default/x.default.svc.cluster.local').name).toBe('x');
    expect(policyOf(result, 'default/x').name).toBe('x');
  });
});

describe('determinism', () => {
  it('the same objects in any order give the same snapshot', () => {
    const objects = [
      AMBIENT_DEFAULT,
      pod('b', { ip: '10.0.0.2', labels: { app: 'web' } }),
      pod('a', { ip: '10.0.0.1', labels: { app: 'web' } }),
      service('web', { ip: '10.96.0.1', selector: { app: 'web' } }),
      serviceEntry('ext', { hosts: ['z.example.com', 'y.example.com'] }),
      authorizationPolicy('deny', { action: 'DENY', rules: [{}] }),
      authorizationPolicy('allow', { selector: { matchLabels: { app: 'web' } } }),
    ];
    const forward = convert(objects).snapshot;
    const backward = convert([...objects].reverse()).snapshot;
    expect(backward).toEqual(forward);
    expect(forward.workloads.map((w) => w.uid)).toEqual([
      'Kubernetes//Pod/default/a',
      'Kubernetes//Pod/default/b',
    ]);
    expect(forward.services.map((s) => s.key)).toEqual([
      'default/web.default.svc.cluster.local',
      'default/y.example.com',
      'default/z.example.com',
    ]);
    expect((forward.authorizations ?? []).map((a) => a.key)).toEqual(['default/allow', 'default/deny']);
  });
});
