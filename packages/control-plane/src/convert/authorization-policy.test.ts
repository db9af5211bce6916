import { EMPTY_MATCH, type AuthorizationGroup, type AuthorizationMatch } from '@ambient/state';
import { describe, expect, it } from 'vitest';
import { authorizationPolicy, convert, pod, podWorkload, policyOf } from './test-objects.js';

const KEY = 'default/p';

/** The groups of a one-policy conversion, with no problem expected. */
function groupsOf(spec: object, annotations: Record<string, string> = {}): readonly AuthorizationGroup[] {
  const result = convert([authorizationPolicy('p', spec, { annotations })]);
  expect(result.problems).toEqual([]);
  return policyOf(result, KEY).groups;
}

const match = (fields: Partial<AuthorizationMatch>): AuthorizationMatch => ({ ...EMPTY_MATCH, ...fields });

describe('AuthorizationPolicy → Authorization: scope, action, dry run', () => {
  it.each<{ name: string; namespace: string; spec: object; scope: string }>([
    {
      name: 'a selector',
      namespace: 'default',
      spec: { selector: { matchLabels: { app: 'a' } } },
      scope: 'WORKLOAD_SELECTOR',
    },
    { name: 'no selector', namespace: 'default', spec: {}, scope: 'NAMESPACE' },
    { name: 'no selector in the root namespace', namespace: 'istio-system', spec: {}, scope: 'GLOBAL' },
    {
      name: 'a selector in the root namespace',
      namespace: 'istio-system',
      spec: { selector: { matchLabels: { app: 'a' } } },
      scope: 'WORKLOAD_SELECTOR',
    },
  ])('$name → $scope', ({ namespace, spec, scope }) => {
    const result = convert([authorizationPolicy('p', { ...spec, rules: [{}] }, { namespace })]);
    expect(policyOf(result, `${namespace}/p`).scope).toBe(scope);
  });

  it('takes the root namespace from the options', () => {
    const result = convert([authorizationPolicy('p', {}, { namespace: 'mesh-root' })], {
      rootNamespace: 'mesh-root',
    });
    expect(policyOf(result, 'mesh-root/p').scope).toBe('GLOBAL');
  });

  it.each([
    { action: undefined, want: 'ALLOW' },
    { action: 'ALLOW', want: 'ALLOW' },
    { action: 'DENY', want: 'DENY' },
  ])('action $action → $want', ({ action, want }) => {
    const result = convert([authorizationPolicy('p', action === undefined ? {} : { action })]);
    expect(policyOf(result, KEY).action).toBe(want);
  });

  it.each(['AUDIT', 'CUSTOM'])('a %s policy is reported and not sent', (action) => {
    const result = convert([authorizationPolicy('p', { action, rules: [{}] })]);
    expect(result.snapshot.authorizations).toEqual([]);
    expect(result.problems).toEqual([
      expect.objectContaining({ object: 'AuthorizationPolicy default/p', field: 'spec.action' }),
    ]);
  });

  it.each<{ action: string; groups: AuthorizationGroup[] }>([
    { action: 'ALLOW', groups: [] },
    { action: 'DENY', groups: [{ rules: [] }] },
  ])(
    'an $action policy with a value that does not parse is reported and fails closed',
    ({ action, groups }) => {
      const result = convert([
        authorizationPolicy('p', {
          action,
          rules: [
            { to: [{ operation: { ports: ['http'] } }], from: [{ source: { ipBlocks: ['10.0.0.0/33'] } }] },
          ],
        }),
      ]);
      expect(policyOf(result, KEY).groups).toEqual(groups);
      const fields = result.problems.map((problem) => problem.field);
      expect(fields).toEqual(
        expect.arrayContaining([
          'spec.rules[0].to[0].operation.ports[0]',
          'spec.rules[0].from[0].source.ipBlocks[0]',
          'spec.rules',
        ]),
      );
      expect(result.problems.find((problem) => problem.field === 'spec.rules')?.message).toMatch(
        /fail closed/,
      );
    },
  );

  it.each([
    { spec: { targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'wp' } } },
    { spec: { targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }] } },
  ])('a waypoint policy (targetRef) is not for ztunnel: skipped without a problem', ({ spec }) => {
    const result = convert([authorizationPolicy('p', { ...spec, action: 'DENY', rules: [{}] })]);
    expect(result.snapshot.authorizations).toEqual([]);
    expect(result.problems).toEqual([]);
  });

  it.each([
    { annotation: 'true', dryRun: true, warned: false },
    { annotation: 'false', dryRun: false, warned: false },
    { annotation: 'yes', dryRun: false, warned: true },
  ])('istio.io/dry-run: $annotation → dryRun $dryRun', ({ annotation, dryRun, warned }) => {
    const result = convert([
      authorizationPolicy('p', {}, { annotations: { 'istio.io/dry-run': annotation } }),
    ]);
    expect(policyOf(result, KEY).dryRun).toBe(dryRun);
    expect(result.problems).toEqual(
      warned
        ? [
            expect.objectContaining({
              field: 'metadata.annotations["istio.io/dry-run"]',
              severity: 'warning',
            }),
          ]
        : [],
    );
  });
});

describe('AuthorizationPolicy rules → groups', () => {
  it('absent rules: no group (an ALLOW that never matches, so it denies)', () => {
    expect(groupsOf({})).toEqual([]);
  });

  it('an empty rule: a group with no rules (matches everything)', () => {
    expect(groupsOf({ rules: [{}] })).toEqual([{ rules: [] }]);
  });

  it('one group per rule; to, from and each when are separate rules, each from/to entry a match', () => {
    const groups = groupsOf({
      rules: [
        {
          from: [{ source: { namespaces: ['a'] } }, { source: { principals: ['cluster.local/ns/b/sa/c'] } }],
          to: [{ operation: { ports: ['80'] } }, { operation: { ports: ['443'] } }],
          when: [
            { key: 'source.ip', values: ['10.0.0.1'] },
            { key: 'destination.port', values: ['8080'] },
          ],
        },
        { from: [{ source: { namespaces: ['z'] } }] },
      ],
    });
    expect(groups).toEqual([
      {
        rules: [
          { matches: [match({ destinationPorts: [80] }), match({ destinationPorts: [443] })] },
          {
            matches: [
              match({ namespaces: [{ kind: 'exact', value: 'a' }] }),
              match({ principals: [{ kind: 'exact', value: 'cluster.local/ns/b/sa/c' }] }),
            ],
          },
          { matches: [match({ sourceIps: [{ ip: '10.0.0.1', prefixLength: 32 }] })] },
          { matches: [match({ destinationPorts: [8080] })] },
        ],
      },
      { rules: [{ matches: [match({ namespaces: [{ kind: 'exact', value: 'z' }] })] }] },
    ]);
  });

  const fromCases: { name: string; source: object; want: Partial<AuthorizationMatch> }[] = [
    {
      name: 'principals in every string form',
      source: { principals: ['exact', 'prefix*', '*suffix', '*'] },
      want: {
        principals: [
          { kind: 'exact', value: 'exact' },
          { kind: 'prefix', value: 'prefix' },
          { kind: 'suffix', value: 'suffix' },
          { kind: 'presence' },
        ],
      },
    },
    {
      name: 'notPrincipals',
      source: { notPrincipals: ['cluster.local/ns/x/sa/y'] },
      want: { notPrincipals: [{ kind: 'exact', value: 'cluster.local/ns/x/sa/y' }] },
    },
    {
      name: 'namespaces',
      source: { namespaces: ['prod-*'] },
      want: { namespaces: [{ kind: 'prefix', value: 'prod-' }] },
    },
    {
      name: 'notNamespaces',
      source: { notNamespaces: ['dev'] },
      want: { notNamespaces: [{ kind: 'exact', value: 'dev' }] },
    },
    {
      name: 'serviceAccounts: ns/sa, or a bare name in the policy namespace',
      source: { serviceAccounts: ['other/api', 'local'] },
      want: {
        serviceAccounts: [
          { namespace: 'other', serviceAccount: 'api' },
          { namespace: 'default', serviceAccount: 'local' },
        ],
      },
    },
    {
      name: 'notServiceAccounts',
      source: { notServiceAccounts: ['x/y'] },
      want: { notServiceAccounts: [{ namespace: 'x', serviceAccount: 'y' }] },
    },
    {
      name: 'ipBlocks: CIDRs, and bare addresses as /32 and /128',
      source: { ipBlocks: ['10.0.0.0/8', '192.168.1.1', 'fd00::1', 'fd00::/64'] },
      want: {
        sourceIps: [
          { ip: '10.0.0.0', prefixLength: 8 },
          { ip: '192.168.1.1', prefixLength: 32 },
          { ip: 'fd00::1', prefixLength: 128 },
          { ip: 'fd00::', prefixLength: 64 },
        ],
      },
    },
    {
      name: 'notIpBlocks',
      source: { notIpBlocks: ['10.1.0.0/16'] },
      want: { notSourceIps: [{ ip: '10.1.0.0', prefixLength: 16 }] },
    },
  ];
  it.each(fromCases)('from.source $name', ({ source, want }) => {
    expect(groupsOf({ rules: [{ from: [{ source }] }] })).toEqual([{ rules: [{ matches: [match(want)] }] }]);
  });

  it.each([
    { operation: { ports: ['80', '8080'] }, want: { destinationPorts: [80, 8080] } },
    { operation: { notPorts: ['22'] }, want: { notDestinationPorts: [22] } },
  ])('to.operation $operation', ({ operation, want }) => {
    expect(groupsOf({ rules: [{ to: [{ operation }] }] })).toEqual([{ rules: [{ matches: [match(want)] }] }]);
  });

  it.each<{ key: string; values?: string[]; notValues?: string[]; want: Partial<AuthorizationMatch> }>([
    {
      key: 'source.ip',
      values: ['10.0.0.0/24'],
      want: { sourceIps: [{ ip: '10.0.0.0', prefixLength: 24 }] },
    },
    {
      key: 'source.ip',
      notValues: ['10.0.0.9'],
      want: { notSourceIps: [{ ip: '10.0.0.9', prefixLength: 32 }] },
    },
    { key: 'source.namespace', values: ['a'], want: { namespaces: [{ kind: 'exact', value: 'a' }] } },
    { key: 'source.namespace', notValues: ['b*'], want: { notNamespaces: [{ kind: 'prefix', value: 'b' }] } },
    { key: 'source.principal', values: ['*'], want: { principals: [{ kind: 'presence' }] } },
    {
      key: 'source.principal',
      notValues: ['*/sa/x'],
      want: { notPrincipals: [{ kind: 'suffix', value: '/sa/x' }] },
    },
    {
      key: 'destination.ip',
      values: ['10.2.0.1'],
      want: { destinationIps: [{ ip: '10.2.0.1', prefixLength: 32 }] },
    },
    {
      key: 'destination.ip',
      notValues: ['10.3.0.0/16'],
      want: { notDestinationIps: [{ ip: '10.3.0.0', prefixLength: 16 }] },
    },
    { key: 'destination.port', values: ['9090'], want: { destinationPorts: [9090] } },
    { key: 'destination.port', notValues: ['15000'], want: { notDestinationPorts: [15000] } },
  ])('when $key values $values notValues $notValues', ({ key, values, notValues, want }) => {
    const condition = { key, ...(values ? { values } : {}), ...(notValues ? { notValues } : {}) };
    expect(groupsOf({ rules: [{ when: [condition] }] })).toEqual([{ rules: [{ matches: [match(want)] }] }]);
  });

  it.each([
    {
      at: 'spec.rules[0].to[0].operation.ports[1]',
      rule: { to: [{ operation: { ports: ['80', 'http'] } }] },
    },
    {
      at: 'spec.rules[0].to[0].operation.notPorts[0]',
      rule: { to: [{ operation: { notPorts: ['70000'] } }] },
    },
    {
      at: 'spec.rules[0].from[0].source.ipBlocks[0]',
      rule: { from: [{ source: { ipBlocks: ['10.0.0.300'] } }] },
    },
    {
      at: 'spec.rules[0].from[0].source.notIpBlocks[0]',
      rule: { from: [{ source: { notIpBlocks: ['1.2.3.4/33'] } }] },
    },
    { at: 'spec.rules[0].when[0].values[0]', rule: { when: [{ key: 'destination.port', values: ['x'] }] } },
  ])(
    'a value that does not parse is reported at $at; the DENY policy then denies its whole scope',
    ({ at, rule }) => {
      const result = convert([authorizationPolicy('p', { action: 'DENY', rules: [rule] })]);
      expect(policyOf(result, KEY).groups).toEqual([{ rules: [] }]);
      expect(result.problems).toEqual([
        expect.objectContaining({ object: 'AuthorizationPolicy default/p', field: at }),
        expect.objectContaining({ object: 'AuthorizationPolicy default/p', field: 'spec.rules' }),
      ]);
    },
  );
});

describe('HTTP attributes ztunnel cannot enforce', () => {
  const http = [
    {
      name: 'methods',
      rule: { to: [{ operation: { methods: ['GET'], ports: ['80'] } }] },
      at: 'spec.rules[0].to[0].operation.methods',
    },
    {
      name: 'paths',
      rule: { to: [{ operation: { paths: ['/admin'] } }] },
      at: 'spec.rules[0].to[0].operation.paths',
    },
    {
      name: 'notHosts',
      rule: { to: [{ operation: { notHosts: ['a'] } }] },
      at: 'spec.rules[0].to[0].operation.notHosts',
    },
    {
      name: 'requestPrincipals',
      rule: { from: [{ source: { requestPrincipals: ['*'] } }] },
      at: 'spec.rules[0].from[0].source.requestPrincipals',
    },
    {
      name: 'remoteIpBlocks',
      rule: { from: [{ source: { remoteIpBlocks: ['1.2.3.4'] } }] },
      at: 'spec.rules[0].from[0].source.remoteIpBlocks',
    },
    {
      name: 'an HTTP when key',
      rule: { when: [{ key: 'request.headers[x-user]', values: ['a'] }] },
      at: 'spec.rules[0].when[0].key',
    },
  ];

  it.each(http)(
    'ALLOW: a rule with $name is dropped (stricter), with a warning at its field',
    ({ rule, at }) => {
      const result = convert([
        authorizationPolicy('p', { rules: [rule, { from: [{ source: { namespaces: ['ok'] } }] }] }),
      ]);
      expect(policyOf(result, KEY).groups).toEqual([
        { rules: [{ matches: [match({ namespaces: [{ kind: 'exact', value: 'ok' }] })] }] },
      ]);
      expect(result.problems).toEqual([
        expect.objectContaining({
          field: at,
          severity: 'warning',
          message: expect.stringMatching(/ALLOW/) as unknown,
        }),
      ]);
    },
  );

  it('ALLOW whose only rule is HTTP: no group left, so it denies everything it selects', () => {
    const result = convert([authorizationPolicy('p', { rules: [http[0]?.rule ?? {}] })]);
    expect(policyOf(result, KEY).groups).toEqual([]);
  });

  it('DENY: the L4 parts of the rule are kept (stricter), with a warning', () => {
    const result = convert([
      authorizationPolicy('p', {
        action: 'DENY',
        rules: [
          {
            to: [{ operation: { methods: ['DELETE'], ports: ['80'] } }],
            from: [{ source: { namespaces: ['x'] } }],
          },
        ],
      }),
    ]);
    expect(policyOf(result, KEY).groups).toEqual([
      {
        rules: [
          { matches: [match({ destinationPorts: [80] })] },
          { matches: [match({ namespaces: [{ kind: 'exact', value: 'x' }] })] },
        ],
      },
    ]);
    expect(result.problems).toEqual([
      expect.objectContaining({
        field: 'spec.rules[0].to[0].operation.methods',
        severity: 'warning',
        message: expect.stringMatching(/stricter/) as unknown,
      }),
    ]);
  });

  it('DENY with nothing but HTTP attributes: sent (it never fires), and the warning says it has no effect', () => {
    const result = convert([
      authorizationPolicy('p', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }),
    ]);
    expect(policyOf(result, KEY).groups).toEqual([{ rules: [{ matches: [EMPTY_MATCH] }] }]);
    expect(result.problems).toEqual([
      expect.objectContaining({
        severity: 'warning',
        message: expect.stringMatching(/no effect/) as unknown,
      }),
    ]);
  });
});

describe('which workloads list a policy', () => {
  it('selector policies of the workload namespace and of the root namespace that match its labels, sorted', () => {
    const result = convert([
      pod('w', { labels: { app: 'w', tier: 'web' } }),
      authorizationPolicy('z-match', { selector: { matchLabels: { app: 'w' } } }),
      authorizationPolicy('a-match', { selector: { matchLabels: { tier: 'web' } } }),
      authorizationPolicy('all-of-ns', { selector: {} }),
      authorizationPolicy('no-match', { selector: { matchLabels: { app: 'x' } } }),
      authorizationPolicy('mesh', { selector: { matchLabels: { app: 'w' } } }, { namespace: 'istio-system' }),
      authorizationPolicy('other-ns', { selector: { matchLabels: { app: 'w' } } }, { namespace: 'other' }),
      authorizationPolicy('namespace-wide', {}),
      authorizationPolicy('waypoint', {
        selector: { matchLabels: { app: 'w' } },
        targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'wp' }],
      }),
    ]);
    expect(result.problems).toEqual([]);
    expect(podWorkload(result, 'w').authorizationPolicies).toEqual([
      'default/a-match',
      'default/all-of-ns',
      'default/z-match',
      'istio-system/mesh',
    ]);
  });
});
