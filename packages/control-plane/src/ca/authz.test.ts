import { describe, expect, it } from 'vitest';
import { createWorkload, ProxyState } from '@ambient/state';
import type { Caller } from './authn.js';
import { authorizeIdentity, workloadDirectoryFromState } from './authz.js';
import { fixedWorkloads, spiffeId } from './test-fixtures.js';

const SLEEP = spiffeId('default', 'sleep');
const ECHO = spiffeId('default', 'echo');
const ZTUNNEL = spiffeId('istio-system', 'ztunnel');

const sleepCaller: Caller = { kind: 'workload', identity: SLEEP, name: 'sleep' };
const nodeA: Caller = { kind: 'node', node: 'node-a', name: 'ztunnel-a' };
const nodeAWithIdentity: Caller = { kind: 'node', node: 'node-a', identity: ZTUNNEL, name: 'ztunnel-a' };
const workloads = fixedWorkloads({ 'node-a': [SLEEP], 'node-b': [ECHO] });

describe('authorizeIdentity', () => {
  it.each<[string, Caller, string | undefined, string | RegExp]>([
    ['a workload, its own identity', sleepCaller, undefined, SLEEP],
    ['a workload naming its own identity', sleepCaller, SLEEP, SLEEP],
    ['a workload asking for another', sleepCaller, ECHO, /a workload may only get its own identity/],
    ['a node agent, a workload on its node', nodeA, SLEEP, SLEEP],
    [
      'a node agent, a workload on another node',
      nodeA,
      ECHO,
      /no workload with identity .*echo runs on node node-a/,
    ],
    ['a node agent without identity naming none', nodeA, undefined, /must name the identity/],
    ['a node agent, its own identity', nodeAWithIdentity, undefined, ZTUNNEL],
    ['a node agent naming its own identity', nodeAWithIdentity, ZTUNNEL, ZTUNNEL],
  ])('%s', (_name, caller, impersonated, expected) => {
    const decision = authorizeIdentity(caller, impersonated, workloads);
    if (typeof expected === 'string') expect(decision).toEqual({ allowed: true, identity: expected });
    else expect(decision.allowed ? decision.identity : decision.reason).toMatch(expected);
  });
});

describe('workloadDirectoryFromState', () => {
  it('lists the identities of the workloads on a node, and follows state changes', () => {
    const workload = (uid: string, serviceAccount: string, node: string) =>
      createWorkload({ uid, name: uid, namespace: 'default', serviceAccount, node, workloadIps: [] });
    const state = new ProxyState({
      workloads: [workload('a', 'sleep', 'node-a'), workload('b', 'echo', 'node-b')],
      services: [],
    });
    const directory = workloadDirectoryFromState(state);
    expect(directory.identitiesOnNode('node-a')).toEqual(new Set([SLEEP]));
    expect(directory.identitiesOnNode('node-c')).toEqual(new Set());
    state.replace({ workloads: [workload('b', 'echo', 'node-a')], services: [] });
    expect(directory.identitiesOnNode('node-a')).toEqual(new Set([ECHO]));
  });
});
