import { EMPTY_MATCH, type AuthorizationMatch } from '@ambient/state';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../sources/source.js';
import { convert, peerAuthentication, pod, podWorkload, policyOf } from './test-objects.js';

const STATIC = 'istio-system/istio_converted_static_strict';
const NO_IDENTITY: AuthorizationMatch = { ...EMPTY_MATCH, notPrincipals: [{ kind: 'presence' }] };

type Mode = 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET';

function mesh(mode: Mode, name = 'mesh', created?: string): KubeObject {
  return peerAuthentication(
    name,
    { mtls: { mode } },
    { namespace: 'istio-system', ...(created === undefined ? {} : { creationTimestamp: created }) },
  );
}
function namespaceWide(mode: Mode, name = 'ns', created?: string): KubeObject {
  return peerAuthentication(
    name,
    { mtls: { mode } },
    created === undefined ? {} : { creationTimestamp: created },
  );
}
function forApp(mode: Mode, portLevelMtls?: Record<string, { mode: Mode }>, name = 'wl'): KubeObject {
  return peerAuthentication(name, {
    selector: { matchLabels: { app: 'a' } },
    mtls: { mode },
    ...(portLevelMtls === undefined ? {} : { portLevelMtls }),
  });
}

/** The keys pod `a` (labels app=a) and pod `b` (app=b) list. */
function keys(...policies: KubeObject[]): { a: readonly string[]; b: readonly string[] } {
  const result = convert([
    pod('a', { ip: '10.0.0.1', labels: { app: 'a' } }),
    pod('b', { ip: '10.0.0.2', labels: { app: 'b' } }),
    ...policies,
  ]);
  expect(result.problems).toEqual([]);
  return {
    a: podWorkload(result, 'a').authorizationPolicies,
    b: podWorkload(result, 'b').authorizationPolicies,
  };
}

describe('PeerAuthentication → the static STRICT policy', () => {
  it('is sent (DENY callers without identity) as soon as any PeerAuthentication exists', () => {
    const result = convert([namespaceWide('PERMISSIVE')]);
    expect(policyOf(result, STATIC)).toMatchObject({
      name: 'istio_converted_static_strict',
      namespace: 'istio-system',
      scope: 'WORKLOAD_SELECTOR',
      action: 'DENY',
      dryRun: false,
      groups: [{ rules: [{ matches: [NO_IDENTITY] }] }],
    });
  });

  it('is not sent without PeerAuthentications', () => {
    expect(convert([pod('a')]).snapshot.authorizations).toEqual([]);
  });

  it('lives in the configured root namespace', () => {
    const result = convert(
      [peerAuthentication('m', { mtls: { mode: 'STRICT' } }, { namespace: 'root' }), pod('a')],
      {
        rootNamespace: 'root',
      },
    );
    expect(podWorkload(result, 'a').authorizationPolicies).toEqual(['root/istio_converted_static_strict']);
  });
});

describe('effective mode: workload → namespace → mesh', () => {
  it.each<{ name: string; policies: KubeObject[]; a: string[]; b: string[] }>([
    { name: 'mesh STRICT', policies: [mesh('STRICT')], a: [STATIC], b: [STATIC] },
    { name: 'mesh PERMISSIVE', policies: [mesh('PERMISSIVE')], a: [], b: [] },
    { name: 'namespace STRICT', policies: [namespaceWide('STRICT')], a: [STATIC], b: [STATIC] },
    {
      name: 'namespace PERMISSIVE over mesh STRICT',
      policies: [mesh('STRICT'), namespaceWide('PERMISSIVE')],
      a: [],
      b: [],
    },
    {
      name: 'namespace DISABLE over mesh STRICT',
      policies: [mesh('STRICT'), namespaceWide('DISABLE')],
      a: [],
      b: [],
    },
    {
      name: 'namespace UNSET inherits mesh STRICT',
      policies: [mesh('STRICT'), namespaceWide('UNSET')],
      a: [STATIC],
      b: [STATIC],
    },
    {
      name: 'workload STRICT in a PERMISSIVE namespace',
      policies: [namespaceWide('PERMISSIVE'), forApp('STRICT')],
      a: [STATIC],
      b: [],
    },
    {
      name: 'workload PERMISSIVE in a STRICT mesh',
      policies: [mesh('STRICT'), forApp('PERMISSIVE')],
      a: [],
      b: [STATIC],
    },
    {
      name: 'workload UNSET inherits',
      policies: [namespaceWide('STRICT'), forApp('UNSET')],
      a: [STATIC],
      b: [STATIC],
    },
    {
      name: 'a selector policy in the root namespace is not a mesh policy',
      policies: [
        peerAuthentication(
          'sel',
          { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' } },
          { namespace: 'istio-system' },
        ),
      ],
      a: [],
      b: [],
    },
    {
      name: 'namespace-wide: the oldest wins',
      policies: [
        namespaceWide('PERMISSIVE', 'newer', '2026-03-01T00:00:00Z'),
        namespaceWide('STRICT', 'older', '2026-01-01T00:00:00Z'),
      ],
      a: [STATIC],
      b: [STATIC],
    },
    {
      name: 'mesh-wide: the oldest wins',
      policies: [
        mesh('STRICT', 'm-new', '2026-03-01T00:00:00Z'),
        mesh('PERMISSIVE', 'm-old', '2026-01-01T00:00:00Z'),
      ],
      a: [],
      b: [],
    },
    {
      name: 'same age: the first name wins',
      policies: [namespaceWide('PERMISSIVE', 'b-policy'), namespaceWide('STRICT', 'a-policy')],
      a: [STATIC],
      b: [STATIC],
    },
  ])('$name', ({ policies, a, b }) => {
    expect(keys(...policies)).toEqual({ a, b });
  });
});

describe('port-level mTLS', () => {
  const converted = 'default/converted_peer_authentication_wl';

  it('STRICT with a PERMISSIVE port: its own DENY policy, listed instead of the static one', () => {
    const policies = [forApp('STRICT', { 9090: { mode: 'PERMISSIVE' } })];
    expect(keys(...policies)).toEqual({ a: [converted], b: [] });
    const result = convert(policies);
    expect(policyOf(result, converted)).toMatchObject({
      name: 'converted_peer_authentication_wl',
      namespace: 'default',
      scope: 'WORKLOAD_SELECTOR',
      action: 'DENY',
      // Deny callers without identity AND not to port 9090.
      groups: [
        {
          rules: [{ matches: [NO_IDENTITY] }, { matches: [{ ...EMPTY_MATCH, notDestinationPorts: [9090] }] }],
        },
      ],
    });
  });

  it('PERMISSIVE with STRICT ports: one group per STRICT port', () => {
    const policies = [forApp('PERMISSIVE', { 8443: { mode: 'STRICT' }, 443: { mode: 'STRICT' } })];
    expect(keys(...policies)).toEqual({ a: [converted], b: [] });
    expect(policyOf(convert(policies), converted).groups).toEqual([
      { rules: [{ matches: [{ ...NO_IDENTITY, destinationPorts: [443] }] }] },
      { rules: [{ matches: [{ ...NO_IDENTITY, destinationPorts: [8443] }] }] },
    ]);
  });

  it('UNSET under a STRICT namespace with a PERMISSIVE port: the namespace STRICT is merged in', () => {
    const policies = [namespaceWide('STRICT'), forApp('UNSET', { 9090: { mode: 'PERMISSIVE' } })];
    expect(keys(...policies)).toEqual({ a: [converted], b: [STATIC] });
    expect(policyOf(convert(policies), converted).groups).toEqual([
      { rules: [{ matches: [{ ...EMPTY_MATCH, notDestinationPorts: [9090] }] }, { matches: [NO_IDENTITY] }] },
    ]);
  });

  it('STRICT with only STRICT ports is plain STRICT: no converted policy', () => {
    const policies = [forApp('STRICT', { 9090: { mode: 'STRICT' } })];
    expect(keys(...policies)).toEqual({ a: [STATIC], b: [] });
    expect((convert(policies).snapshot.authorizations ?? []).map((p) => p.key)).toEqual([STATIC]);
  });

  it('a port that is not a number is reported and the policy left out', () => {
    const result = convert([
      pod('a', { labels: { app: 'a' } }),
      forApp('STRICT', { http: { mode: 'PERMISSIVE' } }),
    ]);
    expect(result.problems).toEqual([
      expect.objectContaining({ object: 'PeerAuthentication default/wl', field: 'spec.portLevelMtls.http' }),
    ]);
    expect(podWorkload(result, 'a').authorizationPolicies).toEqual([]);
  });
});
