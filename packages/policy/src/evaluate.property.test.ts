import { BlockList, isIP } from 'node:net';
import { normalizeIp } from '@ambient/core';
import { parseIdentity } from '@ambient/identity';
import {
  createAuthorization,
  type Authorization,
  type AuthorizationGroup,
  type AuthorizationMatch,
  type CidrMatch,
  type ServiceAccountMatch,
  type StringMatch,
} from '@ambient/state';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConnectionAttributes } from './connection.js';
import type { AuthorizationDecision, DryRunResult } from './decision.js';
import { evaluate } from './evaluate.js';
import { EVERYTHING, deny } from './test-fixtures.js';

// ---- A reference model: ztunnel's rules written out as plainly as possible, on the uncompiled policy.

function referenceIdentity(
  uri: string | undefined,
): { principal: string; ns: string; sa: string } | undefined {
  if (uri === undefined) return undefined;
  const id = parseIdentity(uri);
  return id === undefined
    ? undefined
    : { principal: uri.slice('spiffe://'.length), ns: id.namespace, sa: id.serviceAccount };
}

function stringHolds(m: StringMatch, value: string): boolean {
  if (m.kind === 'exact') return value === m.value;
  if (m.kind === 'prefix') return value.startsWith(m.value);
  if (m.kind === 'suffix') return value.endsWith(m.value);
  return value !== '';
}

function validCidr(c: CidrMatch): boolean {
  const family = isIP(c.ip);
  return (
    family !== 0 &&
    Number.isInteger(c.prefixLength) &&
    c.prefixLength >= 0 &&
    c.prefixLength <= (family === 4 ? 32 : 128)
  );
}

function cidrHolds(c: CidrMatch, address: string): boolean {
  const family = isIP(address);
  if (family === 0 || family !== isIP(c.ip)) return false;
  const list = new BlockList();
  list.addSubnet(c.ip, c.prefixLength, family === 4 ? 'ipv4' : 'ipv6');
  return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function fieldHolds<T>(positive: readonly T[], negative: readonly T[], holds: (item: T) => boolean): boolean {
  return (positive.length === 0 || positive.some(holds)) && (negative.length === 0 || !negative.some(holds));
}

function referenceMatch(m: AuthorizationMatch, conn: ConnectionAttributes): boolean | 'empty' {
  const sourceIps = m.sourceIps.filter(validCidr);
  const notSourceIps = m.notSourceIps.filter(validCidr);
  const destinationIps = m.destinationIps.filter(validCidr);
  const notDestinationIps = m.notDestinationIps.filter(validCidr);
  const lists: readonly (readonly unknown[])[] = [
    m.namespaces,
    m.notNamespaces,
    m.serviceAccounts,
    m.notServiceAccounts,
    m.principals,
    m.notPrincipals,
    sourceIps,
    notSourceIps,
    destinationIps,
    notDestinationIps,
    m.destinationPorts,
    m.notDestinationPorts,
  ];
  if (lists.every((list) => list.length === 0)) return 'empty';
  const id = referenceIdentity(conn.sourceIdentity);
  const source = normalizeIp(conn.sourceIp);
  const destination = normalizeIp(conn.destinationIp);
  const sa = (s: ServiceAccountMatch): boolean => s.namespace === id?.ns && s.serviceAccount === id.sa;
  return (
    fieldHolds(m.principals, m.notPrincipals, (s) => id !== undefined && stringHolds(s, id.principal)) &&
    fieldHolds(m.namespaces, m.notNamespaces, (s) => id !== undefined && stringHolds(s, id.ns)) &&
    fieldHolds(m.serviceAccounts, m.notServiceAccounts, sa) &&
    fieldHolds(sourceIps, notSourceIps, (c) => cidrHolds(c, source)) &&
    fieldHolds(destinationIps, notDestinationIps, (c) => cidrHolds(c, destination)) &&
    fieldHolds(m.destinationPorts, m.notDestinationPorts, (p) => p === conn.destinationPort)
  );
}

function referencePolicyMatches(policy: Authorization, conn: ConnectionAttributes): boolean {
  return policy.groups.some((group) =>
    group.rules.every(
      (rule) => rule.matches.length === 0 || rule.matches.some((m) => referenceMatch(m, conn) === true),
    ),
  );
}

function referenceEvaluate(
  policies: readonly Authorization[],
  conn: ConnectionAttributes,
): AuthorizationDecision {
  const dryRun: DryRunResult[] = [];
  const matches = (p: Authorization): boolean => referencePolicyMatches(p, conn);
  const denies = policies.filter((p) => p.action === 'DENY');
  const allows = policies.filter((p) => p.action === 'ALLOW');
  for (const p of denies.filter((d) => d.dryRun && matches(d)))
    dryRun.push({ kind: 'deny-matched', policy: p.key });
  const denied = denies.find((d) => !d.dryRun && matches(d));
  if (denied !== undefined) {
    return {
      allowed: false,
      reason: 'denied',
      policy: denied.key,
      message: `explicitly denied by: ${denied.key}`,
      dryRun,
    };
  }
  const dryAllows = allows.filter((a) => a.dryRun);
  const matchedDryAllows = dryAllows.filter(matches);
  for (const p of matchedDryAllows) dryRun.push({ kind: 'allow-matched', policy: p.key });
  const enforced = allows.filter((a) => !a.dryRun);
  if (enforced.length === 0) {
    if (dryAllows.length > 0 && matchedDryAllows.length === 0) dryRun.push({ kind: 'no-allow-matched' });
    return { allowed: true, reason: 'no-policies', dryRun };
  }
  const allowed = enforced.find(matches);
  if (allowed !== undefined) return { allowed: true, reason: 'allowed', policy: allowed.key, dryRun };
  return { allowed: false, reason: 'not-allowed', message: 'allow policies exist, but none allowed', dryRun };
}

// ---- Generators drawing from small pools, so that matches hold often enough to be interesting.

const listOf = <T>(item: fc.Arbitrary<T>): fc.Arbitrary<readonly T[]> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constant<readonly T[]>([]) },
    { weight: 1, arbitrary: fc.array(item, { minLength: 1, maxLength: 2 }) },
  );

const stringValue = fc.constantFrom(
  '',
  'default',
  'other',
  'def',
  'ault',
  'cluster.local/ns/default/sa/client',
  'cluster.local/',
  '/sa/client',
  'cluster.local/ns/other/sa/x',
);
const stringMatch: fc.Arbitrary<StringMatch> = fc.oneof(
  stringValue.map((value) => ({ kind: 'exact' as const, value })),
  stringValue.map((value) => ({ kind: 'prefix' as const, value })),
  stringValue.map((value) => ({ kind: 'suffix' as const, value })),
  fc.constant({ kind: 'presence' as const }),
);
const serviceAccount: fc.Arbitrary<ServiceAccountMatch> = fc.record({
  namespace: fc.constantFrom('default', 'other'),
  serviceAccount: fc.constantFrom('client', 'x'),
});
const cidrMatch: fc.Arbitrary<CidrMatch> = fc.constantFrom(
  { ip: '127.0.0.0', prefixLength: 8 },
  { ip: '127.0.1.1', prefixLength: 32 },
  { ip: '127.0.2.0', prefixLength: 24 },
  { ip: '10.0.0.0', prefixLength: 8 },
  { ip: '0.0.0.0', prefixLength: 0 },
  { ip: '::', prefixLength: 0 },
  { ip: 'fd00::', prefixLength: 64 },
  { ip: 'fd00::5', prefixLength: 128 },
  { ip: '2001:db8::', prefixLength: 32 },
  { ip: 'not-an-ip', prefixLength: 8 },
  { ip: '10.0.0.0', prefixLength: 33 },
  { ip: '::', prefixLength: 129 },
);
const port = fc.constantFrom(80, 8080, 9090, 0, 65_536);

const authorizationMatch: fc.Arbitrary<AuthorizationMatch> = fc.record({
  namespaces: listOf(stringMatch),
  notNamespaces: listOf(stringMatch),
  serviceAccounts: listOf(serviceAccount),
  notServiceAccounts: listOf(serviceAccount),
  principals: listOf(stringMatch),
  notPrincipals: listOf(stringMatch),
  sourceIps: listOf(cidrMatch),
  notSourceIps: listOf(cidrMatch),
  destinationIps: listOf(cidrMatch),
  notDestinationIps: listOf(cidrMatch),
  destinationPorts: listOf(port),
  notDestinationPorts: listOf(port),
});

const group: fc.Arbitrary<AuthorizationGroup> = fc.record({
  rules: fc.array(fc.record({ matches: fc.array(authorizationMatch, { maxLength: 3 }) }), { maxLength: 3 }),
});

const authorization: fc.Arbitrary<Authorization> = fc
  .record({
    name: fc.constantFrom('a', 'b', 'c', 'd'),
    action: fc.constantFrom('ALLOW' as const, 'DENY' as const),
    groups: fc.array(group, { maxLength: 3 }),
    dryRun: fc.boolean(),
  })
  .map((init) => createAuthorization({ ...init, namespace: 'ns1', scope: 'NAMESPACE' }));

const connectionAttributes: fc.Arbitrary<ConnectionAttributes> = fc.record({
  sourceIp: fc.constantFrom(
    '127.0.1.1',
    '127.0.2.9',
    '10.1.2.3',
    '::ffff:10.1.2.3',
    'fd00::5',
    '2001:db8::1',
    'bad',
    '',
  ),
  destinationIp: fc.constantFrom('127.0.2.1', '10.0.0.1', 'fd00::5', '::ffff:127.0.2.1', ''),
  destinationPort: port,
  sourceIdentity: fc.constantFrom(
    undefined,
    'spiffe://cluster.local/ns/default/sa/client',
    'spiffe://cluster.local/ns/other/sa/x',
    'spiffe://cluster.local/not-a-workload',
    '',
  ),
});

// ---- Arbitrary input of every shape the types allow, for the never-throws property.

const anyString: fc.Arbitrary<StringMatch> = fc.oneof(
  fc.string().map((value) => ({ kind: 'exact' as const, value })),
  fc.string().map((value) => ({ kind: 'prefix' as const, value })),
  fc.string().map((value) => ({ kind: 'suffix' as const, value })),
  fc.constant({ kind: 'presence' as const }),
);
const anyCidr: fc.Arbitrary<CidrMatch> = fc.record({
  ip: fc.oneof(fc.string(), fc.ipV4(), fc.ipV6()),
  prefixLength: fc.oneof(fc.integer({ min: -1, max: 130 }), fc.double()),
});
const anyNumber = fc.oneof(fc.integer(), fc.double());
const anyMatch: fc.Arbitrary<AuthorizationMatch> = fc.record({
  namespaces: fc.array(anyString, { maxLength: 2 }),
  notNamespaces: fc.array(anyString, { maxLength: 2 }),
  serviceAccounts: fc.array(fc.record({ namespace: fc.string(), serviceAccount: fc.string() }), {
    maxLength: 2,
  }),
  notServiceAccounts: fc.array(fc.record({ namespace: fc.string(), serviceAccount: fc.string() }), {
    maxLength: 2,
  }),
  principals: fc.array(anyString, { maxLength: 2 }),
  notPrincipals: fc.array(anyString, { maxLength: 2 }),
  sourceIps: fc.array(anyCidr, { maxLength: 2 }),
  notSourceIps: fc.array(anyCidr, { maxLength: 2 }),
  destinationIps: fc.array(anyCidr, { maxLength: 2 }),
  notDestinationIps: fc.array(anyCidr, { maxLength: 2 }),
  destinationPorts: fc.array(anyNumber, { maxLength: 2 }),
  notDestinationPorts: fc.array(anyNumber, { maxLength: 2 }),
});
const anyAuthorization: fc.Arbitrary<Authorization> = fc
  .record({
    name: fc.string(),
    namespace: fc.string(),
    scope: fc.constantFrom('GLOBAL' as const, 'NAMESPACE' as const, 'WORKLOAD_SELECTOR' as const),
    action: fc.constantFrom('ALLOW' as const, 'DENY' as const),
    groups: fc.array(
      fc.record({
        rules: fc.array(fc.record({ matches: fc.array(anyMatch, { maxLength: 2 }) }), { maxLength: 2 }),
      }),
      { maxLength: 2 },
    ),
    dryRun: fc.boolean(),
  })
  .map(createAuthorization);
const anyConnection: fc.Arbitrary<ConnectionAttributes> = fc.record({
  sourceIp: fc.oneof(fc.string(), fc.ipV4(), fc.ipV6()),
  sourcePort: anyNumber,
  destinationIp: fc.oneof(fc.string(), fc.ipV4(), fc.ipV6()),
  destinationPort: anyNumber,
  sourceIdentity: fc.option(fc.oneof(fc.string(), fc.webUrl()), { nil: undefined }),
});

describe('evaluate (properties)', () => {
  it('decides exactly as the plainly written reference model', () => {
    fc.assert(
      fc.property(fc.array(authorization, { maxLength: 5 }), connectionAttributes, (policies, conn) => {
        expect(evaluate(policies, conn)).toEqual(referenceEvaluate(policies, conn));
      }),
      { numRuns: 5_000 },
    );
  });

  it('a DENY policy that matches everything always denies', () => {
    fc.assert(
      fc.property(
        fc.array(anyAuthorization, { maxLength: 4 }),
        fc.nat(4),
        anyConnection,
        (policies, position, conn) => {
          const withDeny = [...policies];
          withDeny.splice(position, 0, deny('match-all', EVERYTHING));
          const decision = evaluate(withDeny, conn);
          expect(decision.allowed).toBe(false);
          expect(decision.reason).toBe('denied');
        },
      ),
    );
  });

  it('never throws, and always gives a well-formed decision', () => {
    fc.assert(
      fc.property(fc.array(anyAuthorization, { maxLength: 4 }), anyConnection, (policies, conn) => {
        const decision = evaluate(policies, conn);
        expect(typeof decision.allowed).toBe('boolean');
        expect(Array.isArray(decision.dryRun)).toBe(true);
        if (!decision.allowed) expect(decision.message.length).toBeGreaterThan(0);
        if (decision.reason === 'allowed' || decision.reason === 'denied') {
          expect(policies.map((p) => p.key)).toContain(decision.policy);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
