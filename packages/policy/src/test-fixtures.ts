import {
  EMPTY_MATCH,
  createAuthorization,
  type Authorization,
  type AuthorizationAction,
  type AuthorizationGroup,
  type AuthorizationMatch,
  type CidrMatch,
  type StringMatch,
} from '@ambient/state';
import type { ConnectionAttributes } from './connection.js';

/** Test builders shared by this package's tests (not exported from the package). */

export const CLIENT_IDENTITY = 'spiffe://cluster.local/ns/default/sa/client';
export const CLIENT_PRINCIPAL = 'cluster.local/ns/default/sa/client';

export function connection(overrides: Partial<ConnectionAttributes> = {}): ConnectionAttributes {
  return {
    sourceIp: '127.0.1.1',
    sourcePort: 40_000,
    destinationIp: '127.0.2.1',
    destinationPort: 8080,
    sourceIdentity: CLIENT_IDENTITY,
    ...overrides,
  };
}

export const plaintext = (overrides: Partial<ConnectionAttributes> = {}): ConnectionAttributes =>
  connection({ sourceIdentity: undefined, ...overrides });

export function match(fields: Partial<AuthorizationMatch> = {}): AuthorizationMatch {
  return { ...EMPTY_MATCH, ...fields };
}

/** One group, one rule, one match with these fields. */
export function oneMatch(fields: Partial<AuthorizationMatch>): AuthorizationGroup[] {
  return [{ rules: [{ matches: [match(fields)] }] }];
}

export function policy(
  action: AuthorizationAction,
  name: string,
  groups: readonly AuthorizationGroup[],
  options: { dryRun?: boolean; namespace?: string } = {},
): Authorization {
  return createAuthorization({
    name,
    namespace: options.namespace ?? 'ns1',
    scope: 'NAMESPACE',
    action,
    groups,
    dryRun: options.dryRun ?? false,
  });
}

export const allow = (name: string, groups: readonly AuthorizationGroup[], dryRun = false): Authorization =>
  policy('ALLOW', name, groups, { dryRun });
export const deny = (name: string, groups: readonly AuthorizationGroup[], dryRun = false): Authorization =>
  policy('DENY', name, groups, { dryRun });

/** A group with no rules: matches every connection. */
export const EVERYTHING: readonly AuthorizationGroup[] = [{ rules: [] }];

export const exact = (value: string): StringMatch => ({ kind: 'exact', value });
export const prefix = (value: string): StringMatch => ({ kind: 'prefix', value });
export const suffix = (value: string): StringMatch => ({ kind: 'suffix', value });
export const presence: StringMatch = { kind: 'presence' };

/** `a.b.c.d/n` or `v6/n`; no `/` means a single address. */
export function cidr(text: string): CidrMatch {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return { ip: text, prefixLength: text.includes(':') ? 128 : 32 };
  return { ip: text.slice(0, slash), prefixLength: Number(text.slice(slash + 1)) };
}
