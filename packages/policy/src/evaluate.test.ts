import type { Authorization, AuthorizationGroup, AuthorizationMatch } from '@ambient/state';
import { describe, expect, it } from 'vitest';
import { compilePolicies, compilePolicy } from './compile.js';
import type { ConnectionAttributes } from './connection.js';
import { NOT_ALLOWED_MESSAGE, type AuthorizationDecision } from './decision.js';
import { evaluate, evaluateCompiled } from './evaluate.js';
import {
  CLIENT_PRINCIPAL,
  EVERYTHING,
  allow,
  cidr,
  connection,
  deny,
  exact,
  match,
  oneMatch,
  plaintext,
  prefix,
  presence,
  suffix,
} from './test-fixtures.js';

/** The parts of a decision a table row states. */
function summary(decision: AuthorizationDecision): { allowed: boolean; reason: string; policy?: string } {
  return decision.policy === undefined
    ? { allowed: decision.allowed, reason: decision.reason }
    : { allowed: decision.allowed, reason: decision.reason, policy: decision.policy };
}

const INVALID_IDENTITY = 'spiffe://cluster.local/workload/client';

type FieldCase = readonly [string, Partial<AuthorizationMatch>, ConnectionAttributes, boolean];

/** [what, match fields, connection, whether the match holds] */
const FIELD_CASES: readonly FieldCase[] = [
  // principals: the identity without spiffe://
  ['principal exact', { principals: [exact(CLIENT_PRINCIPAL)] }, connection(), true],
  [
    'principal exact, other',
    { principals: [exact('cluster.local/ns/default/sa/other')] },
    connection(),
    false,
  ],
  [
    'principal written with spiffe://',
    { principals: [exact(`spiffe://${CLIENT_PRINCIPAL}`)] },
    connection(),
    false,
  ],
  ['principal prefix', { principals: [prefix('cluster.local/ns/default/')] }, connection(), true],
  ['principal prefix, other', { principals: [prefix('cluster.local/ns/other/')] }, connection(), false],
  ['principal suffix', { principals: [suffix('/sa/client')] }, connection(), true],
  ['principal suffix, other', { principals: [suffix('/sa/other')] }, connection(), false],
  ['principal presence', { principals: [presence] }, connection(), true],
  ['principal, any of the list', { principals: [exact('x'), suffix('/sa/client')] }, connection(), true],
  ['principal presence, plaintext', { principals: [presence] }, plaintext(), false],
  ['principal exact, plaintext', { principals: [exact(CLIENT_PRINCIPAL)] }, plaintext(), false],
  ['principal empty prefix, plaintext', { principals: [prefix('')] }, plaintext(), false],
  ['principal empty suffix, plaintext', { principals: [suffix('')] }, plaintext(), false],
  ['principal empty exact, plaintext', { principals: [exact('')] }, plaintext(), false],
  [
    'principal presence, invalid identity',
    { principals: [presence] },
    connection({ sourceIdentity: INVALID_IDENTITY }),
    false,
  ],
  [
    'principal presence, empty identity',
    { principals: [presence] },
    connection({ sourceIdentity: '' }),
    false,
  ],
  ['not principal, same', { notPrincipals: [exact(CLIENT_PRINCIPAL)] }, connection(), false],
  [
    'not principal, other',
    { notPrincipals: [exact('cluster.local/ns/default/sa/other')] },
    connection(),
    true,
  ],
  ['not principal prefix', { notPrincipals: [prefix('cluster.local/')] }, connection(), false],
  ['not principal suffix, other', { notPrincipals: [suffix('/sa/other')] }, connection(), true],
  ['not principal presence', { notPrincipals: [presence] }, connection(), false],
  ['not principal presence, plaintext', { notPrincipals: [presence] }, plaintext(), true],
  ['not principal exact, plaintext', { notPrincipals: [exact(CLIENT_PRINCIPAL)] }, plaintext(), true],
  [
    'not principal presence, invalid identity',
    { notPrincipals: [presence] },
    connection({ sourceIdentity: INVALID_IDENTITY }),
    true,
  ],
  [
    'principal and not principal',
    { principals: [prefix('cluster.local/')], notPrincipals: [suffix('/sa/client')] },
    connection(),
    false,
  ],

  // namespaces: the identity's namespace
  ['namespace exact', { namespaces: [exact('default')] }, connection(), true],
  ['namespace exact, other', { namespaces: [exact('other')] }, connection(), false],
  ['namespace prefix', { namespaces: [prefix('def')] }, connection(), true],
  ['namespace prefix, other', { namespaces: [prefix('prod-')] }, connection(), false],
  ['namespace suffix', { namespaces: [suffix('ault')] }, connection(), true],
  ['namespace suffix, other', { namespaces: [suffix('-prod')] }, connection(), false],
  ['namespace presence', { namespaces: [presence] }, connection(), true],
  [
    'namespace exact, trust domain is not the namespace',
    { namespaces: [exact('cluster.local')] },
    connection(),
    false,
  ],
  ['namespace presence, plaintext', { namespaces: [presence] }, plaintext(), false],
  ['namespace exact, plaintext', { namespaces: [exact('default')] }, plaintext(), false],
  ['namespace empty exact, plaintext', { namespaces: [exact('')] }, plaintext(), false],
  ['not namespace, same', { notNamespaces: [exact('default')] }, connection(), false],
  ['not namespace, other', { notNamespaces: [exact('other')] }, connection(), true],
  ['not namespace presence', { notNamespaces: [presence] }, connection(), false],
  ['not namespace, plaintext', { notNamespaces: [exact('default')] }, plaintext(), true],
  ['not namespace presence, plaintext', { notNamespaces: [presence] }, plaintext(), true],

  // serviceAccounts: (namespace, service account) of the identity
  [
    'service account',
    { serviceAccounts: [{ namespace: 'default', serviceAccount: 'client' }] },
    connection(),
    true,
  ],
  [
    'service account, other name',
    { serviceAccounts: [{ namespace: 'default', serviceAccount: 'other' }] },
    connection(),
    false,
  ],
  [
    'service account, other namespace',
    { serviceAccounts: [{ namespace: 'other', serviceAccount: 'client' }] },
    connection(),
    false,
  ],
  [
    'service account, any of the list',
    {
      serviceAccounts: [
        { namespace: 'other', serviceAccount: 'x' },
        { namespace: 'default', serviceAccount: 'client' },
      ],
    },
    connection(),
    true,
  ],
  [
    'service account, plaintext',
    { serviceAccounts: [{ namespace: 'default', serviceAccount: 'client' }] },
    plaintext(),
    false,
  ],
  [
    'not service account, same',
    { notServiceAccounts: [{ namespace: 'default', serviceAccount: 'client' }] },
    connection(),
    false,
  ],
  [
    'not service account, other',
    { notServiceAccounts: [{ namespace: 'default', serviceAccount: 'x' }] },
    connection(),
    true,
  ],
  [
    'not service account, plaintext',
    { notServiceAccounts: [{ namespace: 'default', serviceAccount: 'client' }] },
    plaintext(),
    true,
  ],

  // source IPs: the peer address, CIDR containment
  ['source ip /32', { sourceIps: [cidr('127.0.1.1')] }, connection(), true],
  ['source ip /32, other', { sourceIps: [cidr('127.0.1.2')] }, connection(), false],
  ['source ip /8', { sourceIps: [cidr('127.0.0.0/8')] }, connection(), true],
  ['source ip /24, other', { sourceIps: [cidr('127.0.2.0/24')] }, connection(), false],
  ['source ip /0', { sourceIps: [cidr('0.0.0.0/0')] }, connection(), true],
  ['source ip, IPv6 CIDR against IPv4', { sourceIps: [cidr('::/0')] }, connection(), false],
  [
    'source ip, any of the list',
    { sourceIps: [cidr('10.0.0.0/8'), cidr('127.0.1.0/24')] },
    connection(),
    true,
  ],
  [
    'source ip, mapped peer',
    { sourceIps: [cidr('127.0.1.0/24')] },
    connection({ sourceIp: '::ffff:127.0.1.1' }),
    true,
  ],
  ['source ip, mapped CIDR', { sourceIps: [cidr('::ffff:127.0.1.0/120')] }, connection(), true],
  ['source ip v6', { sourceIps: [cidr('fd00::/64')] }, connection({ sourceIp: 'fd00::5' }), true],
  ['source ip v6, other', { sourceIps: [cidr('fd01::/16')] }, connection({ sourceIp: 'fd00::5' }), false],
  ['source ip v6 /128', { sourceIps: [cidr('::1')] }, connection({ sourceIp: '::1' }), true],
  [
    'source ip, IPv4 CIDR against IPv6',
    { sourceIps: [cidr('0.0.0.0/0')] },
    connection({ sourceIp: '::1' }),
    false,
  ],
  ['source ip, unparsable peer', { sourceIps: [cidr('0.0.0.0/0')] }, connection({ sourceIp: 'nope' }), false],
  [
    'source ip, invalid CIDR dropped',
    { sourceIps: [cidr('300.0.0.0/8'), cidr('127.0.1.1')] },
    connection(),
    true,
  ],
  ['not source ip, same', { notSourceIps: [cidr('127.0.1.1')] }, connection(), false],
  ['not source ip, containing', { notSourceIps: [cidr('127.0.0.0/16')] }, connection(), false],
  ['not source ip, other', { notSourceIps: [cidr('10.0.0.0/8')] }, connection(), true],
  [
    'not source ip v6, other',
    { notSourceIps: [cidr('fd00::/8')] },
    connection({ sourceIp: '2001:db8::1' }),
    true,
  ],
  [
    'not source ip, unparsable peer',
    { notSourceIps: [cidr('0.0.0.0/0')] },
    connection({ sourceIp: '' }),
    true,
  ],

  // destination IPs
  ['destination ip', { destinationIps: [cidr('127.0.2.0/24')] }, connection(), true],
  [
    'destination ip, the source is not the destination',
    { destinationIps: [cidr('127.0.1.1')] },
    connection(),
    false,
  ],
  [
    'destination ip v6',
    { destinationIps: [cidr('fd00::2')] },
    connection({ destinationIp: 'fd00::2' }),
    true,
  ],
  [
    'destination ip, mapped',
    { destinationIps: [cidr('127.0.2.1')] },
    connection({ destinationIp: '::ffff:127.0.2.1' }),
    true,
  ],
  ['not destination ip, same', { notDestinationIps: [cidr('127.0.2.1')] }, connection(), false],
  ['not destination ip, other', { notDestinationIps: [cidr('127.0.3.0/24')] }, connection(), true],

  // destination ports: the final target port, exact
  ['destination port', { destinationPorts: [8080] }, connection(), true],
  ['destination port, other', { destinationPorts: [80] }, connection(), false],
  ['destination port, any of the list', { destinationPorts: [80, 8080] }, connection(), true],
  ['destination port, not the source port', { destinationPorts: [40_000] }, connection(), false],
  ['not destination port, same', { notDestinationPorts: [8080] }, connection(), false],
  ['not destination port, other', { notDestinationPorts: [9090] }, connection(), true],
  ['port and not port', { destinationPorts: [8080], notDestinationPorts: [8080] }, connection(), false],

  // every populated field must hold
  ['principal and port both hold', { principals: [presence], destinationPorts: [8080] }, connection(), true],
  ['principal holds, port does not', { principals: [presence], destinationPorts: [80] }, connection(), false],
  [
    'all fields hold',
    {
      namespaces: [exact('default')],
      notNamespaces: [exact('other')],
      serviceAccounts: [{ namespace: 'default', serviceAccount: 'client' }],
      notServiceAccounts: [{ namespace: 'default', serviceAccount: 'other' }],
      principals: [suffix('/sa/client')],
      notPrincipals: [prefix('evil/')],
      sourceIps: [cidr('127.0.1.0/24')],
      notSourceIps: [cidr('127.0.1.2')],
      destinationIps: [cidr('127.0.2.1')],
      notDestinationIps: [cidr('127.0.2.2')],
      destinationPorts: [8080],
      notDestinationPorts: [8081],
    },
    connection(),
    true,
  ],
  [
    'all fields hold but one',
    {
      namespaces: [exact('default')],
      serviceAccounts: [{ namespace: 'default', serviceAccount: 'client' }],
      principals: [suffix('/sa/client')],
      sourceIps: [cidr('127.0.1.0/24')],
      destinationIps: [cidr('127.0.2.1')],
      destinationPorts: [8080],
      notDestinationPorts: [8080],
    },
    connection(),
    false,
  ],
];

describe('evaluate: match fields', () => {
  it.each(FIELD_CASES)('%s → %s', (_what, fields, conn, holds) => {
    const allowPolicy = allow('allow', oneMatch(fields));
    const denyPolicy = deny('deny', oneMatch(fields));
    expect(summary(evaluate([allowPolicy], conn))).toEqual(
      holds
        ? { allowed: true, reason: 'allowed', policy: 'ns1/allow' }
        : { allowed: false, reason: 'not-allowed' },
    );
    expect(summary(evaluate([denyPolicy], conn))).toEqual(
      holds
        ? { allowed: false, reason: 'denied', policy: 'ns1/deny' }
        : { allowed: true, reason: 'no-policies' },
    );
  });
});

const PORT_8080: AuthorizationMatch = match({ destinationPorts: [8080] });
const PORT_80: AuthorizationMatch = match({ destinationPorts: [80] });
const OTHER_NAMESPACE: AuthorizationMatch = match({ namespaces: [exact('other')] });

type StructureCase = readonly [string, readonly AuthorizationGroup[], boolean];

/** [what, the groups of the policy, whether it matches connection()] */
const STRUCTURE_CASES: readonly StructureCase[] = [
  ['zero groups never match', [], false],
  ['a group with zero rules matches everything', [{ rules: [] }], true],
  ['a rule with zero matches matches', [{ rules: [{ matches: [] }] }], true],
  ['an empty match is skipped', [{ rules: [{ matches: [match()] }] }], false],
  ['a rule of only empty matches never matches', [{ rules: [{ matches: [match(), match()] }] }], false],
  ['an empty match beside a holding one', [{ rules: [{ matches: [match(), PORT_8080] }] }], true],
  ['an empty match beside a failing one', [{ rules: [{ matches: [match(), PORT_80] }] }], false],
  [
    'a match of only invalid CIDRs is empty, so skipped',
    oneMatch({ notSourceIps: [cidr('1.2.3.4/40')] }),
    false,
  ],
  ['a rule matches if any match does', [{ rules: [{ matches: [PORT_80, PORT_8080] }] }], true],
  ['a rule fails if no match does', [{ rules: [{ matches: [PORT_80, OTHER_NAMESPACE] }] }], false],
  [
    'all rules of a group must match',
    [{ rules: [{ matches: [PORT_8080] }, { matches: [OTHER_NAMESPACE] }] }],
    false,
  ],
  [
    'all rules of a group match',
    [{ rules: [{ matches: [PORT_8080] }, { matches: [match({ principals: [presence] })] }] }],
    true,
  ],
  [
    'a rule with zero matches does not rescue a failing rule',
    [{ rules: [{ matches: [] }, { matches: [PORT_80] }] }],
    false,
  ],
  [
    'an empty-match rule fails its group',
    [{ rules: [{ matches: [PORT_8080] }, { matches: [match()] }] }],
    false,
  ],
  ['any group may match', [{ rules: [{ matches: [PORT_80] }] }, { rules: [{ matches: [PORT_8080] }] }], true],
  [
    'no group matches',
    [{ rules: [{ matches: [PORT_80] }] }, { rules: [{ matches: [OTHER_NAMESPACE] }] }],
    false,
  ],
  [
    'an impossible group does not hide a later one',
    [{ rules: [{ matches: [match()] }] }, { rules: [] }],
    true,
  ],
];

describe('evaluate: groups, rules and matches', () => {
  it.each(STRUCTURE_CASES)('%s → %s', (_what, groups, matches) => {
    expect(evaluate([allow('allow', groups)], connection()).allowed).toBe(matches);
    expect(evaluate([deny('deny', groups)], connection()).allowed).toBe(!matches);
  });

  it('a zero-group ALLOW policy (all rules were L7) denies everything to the workload', () => {
    const degraded = allow('l7-only', []);
    for (const conn of [connection(), plaintext(), connection({ destinationPort: 1 })]) {
      expect(summary(evaluate([degraded], conn))).toEqual({ allowed: false, reason: 'not-allowed' });
    }
  });

  it('a DENY policy whose matches all became empty (L7 parts dropped) never fires', () => {
    const degraded = deny('l7-only', [{ rules: [{ matches: [match()] }] }]);
    expect(summary(evaluate([degraded], plaintext()))).toEqual({ allowed: true, reason: 'no-policies' });
  });
});

const MATCH_ALL_ALLOW = allow('allow-all', EVERYTHING);
const MATCH_ALL_DENY = deny('deny-all', EVERYTHING);
const ALLOW_CLIENT = allow('allow-client', oneMatch({ principals: [exact(CLIENT_PRINCIPAL)] }));
const ALLOW_OTHER = allow('allow-other', oneMatch({ principals: [exact('cluster.local/ns/x/sa/y')] }));
const DENY_CLIENT = deny('deny-client', oneMatch({ principals: [exact(CLIENT_PRINCIPAL)] }));
const DENY_OTHER = deny('deny-other', oneMatch({ principals: [exact('cluster.local/ns/x/sa/y')] }));
const DENY_PORT_8080 = deny('deny-8080', oneMatch({ destinationPorts: [8080] }));

type OrderCase = readonly [string, readonly Authorization[], ReturnType<typeof summary>];

const ORDER_CASES: readonly OrderCase[] = [
  ['no policies → allow', [], { allowed: true, reason: 'no-policies' }],
  ['only a DENY that does not match → allow', [DENY_OTHER], { allowed: true, reason: 'no-policies' }],
  ['a matching DENY → deny', [DENY_CLIENT], { allowed: false, reason: 'denied', policy: 'ns1/deny-client' }],
  [
    'a matching ALLOW → allow',
    [ALLOW_CLIENT],
    { allowed: true, reason: 'allowed', policy: 'ns1/allow-client' },
  ],
  ['ALLOW exists, none matches → deny', [ALLOW_OTHER], { allowed: false, reason: 'not-allowed' }],
  [
    'DENY wins over ALLOW',
    [ALLOW_CLIENT, DENY_CLIENT],
    { allowed: false, reason: 'denied', policy: 'ns1/deny-client' },
  ],
  [
    'DENY wins over a match-all ALLOW',
    [MATCH_ALL_ALLOW, DENY_PORT_8080],
    { allowed: false, reason: 'denied', policy: 'ns1/deny-8080' },
  ],
  [
    'a DENY that does not match leaves ALLOW to decide',
    [DENY_OTHER, ALLOW_CLIENT],
    { allowed: true, reason: 'allowed', policy: 'ns1/allow-client' },
  ],
  [
    'a DENY that does not match, ALLOW none → deny',
    [DENY_OTHER, ALLOW_OTHER],
    { allowed: false, reason: 'not-allowed' },
  ],
  [
    'any ALLOW may allow; the first that matches is named',
    [ALLOW_OTHER, ALLOW_CLIENT, MATCH_ALL_ALLOW],
    { allowed: true, reason: 'allowed', policy: 'ns1/allow-client' },
  ],
  [
    'the first matching DENY is named',
    [DENY_OTHER, DENY_PORT_8080, DENY_CLIENT],
    { allowed: false, reason: 'denied', policy: 'ns1/deny-8080' },
  ],
  [
    'a match-all DENY denies',
    [MATCH_ALL_ALLOW, ALLOW_CLIENT, MATCH_ALL_DENY],
    { allowed: false, reason: 'denied', policy: 'ns1/deny-all' },
  ],
];

describe('evaluate: ALLOW and DENY order', () => {
  it.each(ORDER_CASES)('%s', (_what, policies, expected) => {
    expect(summary(evaluate(policies, connection()))).toEqual(expected);
    expect(summary(evaluateCompiled(compilePolicies(policies), connection()))).toEqual(expected);
  });

  it('words a denial as ztunnel does', () => {
    const denied = evaluate([DENY_CLIENT], connection());
    expect(denied).toMatchObject({ allowed: false, message: 'explicitly denied by: ns1/deny-client' });
    const notAllowed = evaluate([ALLOW_OTHER], connection());
    expect(notAllowed).toMatchObject({ allowed: false, message: 'allow policies exist, but none allowed' });
    expect(NOT_ALLOWED_MESSAGE).toBe('allow policies exist, but none allowed');
  });

  it('plaintext is allowed by a match-all ALLOW and denied by an identity ALLOW', () => {
    expect(summary(evaluate([MATCH_ALL_ALLOW], plaintext()))).toMatchObject({ allowed: true });
    expect(summary(evaluate([ALLOW_CLIENT], plaintext()))).toEqual({ allowed: false, reason: 'not-allowed' });
  });
});

describe('evaluate: dry-run policies', () => {
  it.each([
    [
      'a matching dry-run DENY is reported, not enforced',
      [deny('dry-deny', EVERYTHING, true)],
      { allowed: true, reason: 'no-policies' },
      [{ kind: 'deny-matched', policy: 'ns1/dry-deny' }],
    ],
    [
      'a dry-run DENY that does not match is not reported',
      [deny('dry-deny', oneMatch({ destinationPorts: [1] }), true)],
      { allowed: true, reason: 'no-policies' },
      [],
    ],
    [
      'a dry-run DENY does not stop an ALLOW',
      [deny('dry-deny', EVERYTHING, true), ALLOW_CLIENT],
      { allowed: true, reason: 'allowed', policy: 'ns1/allow-client' },
      [{ kind: 'deny-matched', policy: 'ns1/dry-deny' }],
    ],
    [
      'dry-run DENYs are reported beside an enforced DENY, wherever they are listed',
      [DENY_CLIENT, deny('dry-deny', EVERYTHING, true)],
      { allowed: false, reason: 'denied', policy: 'ns1/deny-client' },
      [{ kind: 'deny-matched', policy: 'ns1/dry-deny' }],
    ],
    [
      'dry-run ALLOWs are not evaluated once a DENY decided',
      [DENY_CLIENT, allow('dry-allow', EVERYTHING, true)],
      { allowed: false, reason: 'denied', policy: 'ns1/deny-client' },
      [],
    ],
    [
      'a matching dry-run ALLOW is reported',
      [allow('dry-allow', EVERYTHING, true)],
      { allowed: true, reason: 'no-policies' },
      [{ kind: 'allow-matched', policy: 'ns1/dry-allow' }],
    ],
    [
      'a dry-run ALLOW that matches nothing is not enforced, and reported as such',
      [allow('dry-allow', [], true)],
      { allowed: true, reason: 'no-policies' },
      [{ kind: 'no-allow-matched' }],
    ],
    [
      'a dry-run ALLOW does not rescue a connection no ALLOW allows',
      [ALLOW_OTHER, allow('dry-allow', EVERYTHING, true)],
      { allowed: false, reason: 'not-allowed' },
      [{ kind: 'allow-matched', policy: 'ns1/dry-allow' }],
    ],
    [
      'a dry-run ALLOW that does not match is not reported when enforced ALLOWs exist',
      [ALLOW_CLIENT, allow('dry-allow', [], true)],
      { allowed: true, reason: 'allowed', policy: 'ns1/allow-client' },
      [],
    ],
    [
      'every stage is reported in order',
      [allow('dry-allow', EVERYTHING, true), deny('dry-deny', EVERYTHING, true), ALLOW_CLIENT],
      { allowed: true, reason: 'allowed', policy: 'ns1/allow-client' },
      [
        { kind: 'deny-matched', policy: 'ns1/dry-deny' },
        { kind: 'allow-matched', policy: 'ns1/dry-allow' },
      ],
    ],
    [
      'every matching dry-run policy of a stage is reported',
      [deny('dry-a', EVERYTHING, true), deny('dry-b', [], true), deny('dry-c', EVERYTHING, true)],
      { allowed: true, reason: 'no-policies' },
      [
        { kind: 'deny-matched', policy: 'ns1/dry-a' },
        { kind: 'deny-matched', policy: 'ns1/dry-c' },
      ],
    ],
  ] as const)('%s', (_what, policies, expected, dryRun) => {
    const decision = evaluate(policies, connection());
    expect(summary(decision)).toEqual(expected);
    expect(decision.dryRun).toEqual(dryRun);
    expect(evaluateCompiled(compilePolicies(policies), connection())).toEqual(decision);
  });
});

describe('compiled policies', () => {
  it('compiles each Authorization object once', () => {
    expect(compilePolicy(ALLOW_CLIENT)).toBe(compilePolicy(ALLOW_CLIENT));
    expect(compilePolicy(ALLOW_CLIENT)).not.toBe(compilePolicy(allow('allow-client', ALLOW_CLIENT.groups)));
  });

  it('returns frozen decisions that later calls cannot disturb', () => {
    const first = evaluate([ALLOW_CLIENT], connection());
    expect(Object.isFrozen(first)).toBe(true);
    evaluate([ALLOW_OTHER, deny('dry', EVERYTHING, true)], plaintext());
    expect(summary(first)).toEqual({ allowed: true, reason: 'allowed', policy: 'ns1/allow-client' });
    expect(first.dryRun).toEqual([]);
  });

  it('keeps a frozen list compiled, and re-reads a mutable list on every call', () => {
    const frozen = Object.freeze([ALLOW_OTHER]);
    expect(evaluate(frozen, connection()).allowed).toBe(false);
    expect(evaluate(frozen, connection()).allowed).toBe(false);
    const mutable = [ALLOW_OTHER];
    expect(evaluate(mutable, connection()).allowed).toBe(false);
    mutable.push(ALLOW_CLIENT);
    expect(evaluate(mutable, connection()).allowed).toBe(true);
    mutable.push(DENY_CLIENT);
    expect(evaluate(mutable, connection()).allowed).toBe(false);
  });

  it('evaluates each connection on its own (nothing parsed is carried over)', () => {
    const fromTen = allow('from-ten', oneMatch({ sourceIps: [cidr('10.0.0.0/8')], principals: [presence] }));
    expect(evaluate([fromTen], connection({ sourceIp: '10.0.0.1' })).allowed).toBe(true);
    expect(evaluate([fromTen], connection({ sourceIp: '11.0.0.1' })).allowed).toBe(false);
    expect(evaluate([fromTen], connection({ sourceIp: '10.0.0.1', sourceIdentity: undefined })).allowed).toBe(
      false,
    );
    expect(evaluate([fromTen], connection({ sourceIp: '10.0.0.1' })).allowed).toBe(true);
  });
});
