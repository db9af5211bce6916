import { describe, expect, it } from 'vitest';
import { createWorkload, ProxyState, type WorkloadInit } from '@ambient/state';
import { findPodWorkload, podIdentity, PodWorkload, type PodWorkloadContext } from './pod-workload.js';

const workload = (init: Partial<WorkloadInit> & Pick<WorkloadInit, 'uid' | 'name'>) =>
  createWorkload({ namespace: 'shop', workloadIps: [], node: 'node-a', tunnelProtocol: 'HBONE', ...init });

const context = (state: ProxyState, name = 'web-1'): PodWorkloadContext => ({
  state,
  clusterId: 'east',
  trustDomain: 'example.org',
  nodeName: 'node-a',
  info: { name, namespace: 'shop', serviceAccount: 'web' },
});

describe('podIdentity', () => {
  it('is the pod’s namespace and service account in our trust domain; no account means default', () => {
    expect(podIdentity('example.org', { name: 'p', namespace: 'shop', serviceAccount: 'web' })).toBe(
      'spiffe://example.org/ns/shop/sa/web',
    );
    expect(podIdentity('cluster.local', { name: 'p', namespace: 'shop', serviceAccount: '' })).toBe(
      'spiffe://cluster.local/ns/shop/sa/default',
    );
  });
});

describe('findPodWorkload', () => {
  it.each([
    ['our control plane’s uid', workload({ uid: 'east//Pod/shop/web-1', name: 'web-1', node: 'elsewhere' })],
    [
      'the local config file’s uid',
      workload({ uid: 'east//v1/Pod/shop/web-1', name: 'web-1', node: 'elsewhere' }),
    ],
    ['name and namespace among this node’s workloads', workload({ uid: 'other-scheme-1', name: 'web-1' })],
  ])('finds the pod by %s', (_how, expected) => {
    const state = new ProxyState({ workloads: [expected], services: [] });
    expect(findPodWorkload(context(state))).toBe(expected);
  });

  it('finds nothing for a pod of that name on another node or in another namespace', () => {
    const state = new ProxyState({
      workloads: [
        workload({ uid: 'a', name: 'web-1', node: 'node-b' }),
        workload({ uid: 'b', name: 'web-1', namespace: 'other' }),
      ],
      services: [],
    });
    expect(findPodWorkload(context(state))).toBeUndefined();
  });
});

describe('PodWorkload', () => {
  it('serves the known workload, and follows the state when it changes', () => {
    const state = new ProxyState();
    const pod = new PodWorkload(context(state));
    expect(pod.known()).toBeUndefined();
    expect(pod.ownsIp('10.0.0.5')).toBe(false);

    const known = workload({
      uid: 'east//Pod/shop/web-1',
      name: 'web-1',
      workloadIps: ['10.0.0.5', 'fd00::5'],
    });
    state.replace({ workloads: [known], services: [] });
    expect(pod.known()).toBe(known);
    expect(pod.source('10.0.0.5')).toBe(known);
    expect(pod.ownsIp('fd00::5')).toBe(true);
    expect(pod.ownsIp('10.0.0.6')).toBe(false);
  });

  it('takes the source from the client IP while the pod is unknown by name, else a stand-in with the right identity', () => {
    const byIp = workload({ uid: 'x', name: 'renamed', workloadIps: ['10.0.0.7'] });
    const remote = workload({ uid: 'y', name: 'remote', workloadIps: ['10.0.0.8'], node: 'node-b' });
    const pod = new PodWorkload(context(new ProxyState({ workloads: [byIp, remote], services: [] })));
    expect(pod.source('10.0.0.7')).toBe(byIp);

    const standIn = pod.source('10.0.0.8');
    expect(standIn).toMatchObject({
      uid: 'east//Pod/shop/web-1',
      name: 'web-1',
      namespace: 'shop',
      node: 'node-a',
      clusterId: 'east',
      tunnelProtocol: 'HBONE',
      identity: 'spiffe://example.org/ns/shop/sa/web',
      canonicalName: '',
    });
    // Inbound needs the pod's addresses: a stand-in owns none.
    expect(pod.known()).toBeUndefined();
  });
});
