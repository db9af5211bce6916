import type {
  Authorization,
  AuthorizationAction,
  AuthorizationMatch,
  AuthorizationRule,
  CidrMatch,
  ServiceAccountMatch,
  StringMatch,
} from '@ambient/state';
import { compileCidr, type CompiledCidr } from './cidr.js';
import {
  EMPTY_DRY_RUN,
  deniedMessage,
  type AllowedDecision,
  type DeniedDecision,
  type DryRunResult,
} from './decision.js';

export const STRING_EXACT = 0;
export const STRING_PREFIX = 1;
export const STRING_SUFFIX = 2;
export const STRING_PRESENCE = 3;

/** One fixed shape for every string form, so the matching loop stays monomorphic. */
export interface CompiledStringMatch {
  readonly kind: typeof STRING_EXACT | typeof STRING_PREFIX | typeof STRING_SUFFIX | typeof STRING_PRESENCE;
  readonly value: string;
}

/** An `AuthorizationMatch` with each empty list as null: evaluation skips a null field at once. */
export interface CompiledMatch {
  readonly destinationPorts: readonly number[] | null;
  readonly notDestinationPorts: readonly number[] | null;
  readonly destinationIps: readonly CompiledCidr[] | null;
  readonly notDestinationIps: readonly CompiledCidr[] | null;
  readonly sourceIps: readonly CompiledCidr[] | null;
  readonly notSourceIps: readonly CompiledCidr[] | null;
  readonly principals: readonly CompiledStringMatch[] | null;
  readonly notPrincipals: readonly CompiledStringMatch[] | null;
  readonly namespaces: readonly CompiledStringMatch[] | null;
  readonly notNamespaces: readonly CompiledStringMatch[] | null;
  readonly serviceAccounts: readonly ServiceAccountMatch[] | null;
  readonly notServiceAccounts: readonly ServiceAccountMatch[] | null;
}

/** Matches when any of its (non-empty) matches does. */
export interface CompiledRule {
  readonly matches: readonly CompiledMatch[];
}

/** Matches when all of its rules do; a group with no rules left matches everything. */
export interface CompiledGroup {
  readonly rules: readonly CompiledRule[];
}

export interface CompiledPolicy {
  readonly source: Authorization;
  readonly key: string;
  readonly action: AuthorizationAction;
  readonly dryRun: boolean;
  /** Only the groups that can match; none left means the policy never matches. */
  readonly groups: readonly CompiledGroup[];
  /** Decisions and dry-run results built once, so a verdict without dry-run output allocates nothing. */
  readonly allowDecision: AllowedDecision;
  readonly denyDecision: DeniedDecision;
  readonly dryRunResult: DryRunResult;
}

/** Policies in the order given (which only decides which policy a decision names). */
export interface CompiledPolicySet {
  readonly policies: readonly CompiledPolicy[];
  /** The enforced DENY and ALLOW policies apart, so the common case (no dry-run) walks each once. */
  readonly denies: readonly CompiledPolicy[];
  readonly allows: readonly CompiledPolicy[];
  readonly hasDryRun: boolean;
}

const compiledByPolicy = new WeakMap<Authorization, CompiledPolicy>();

/** The compiled form of one policy, built once per `Authorization` object. */
export function compilePolicy(policy: Authorization): CompiledPolicy {
  let compiled = compiledByPolicy.get(policy);
  if (compiled === undefined) {
    compiled = buildPolicy(policy);
    compiledByPolicy.set(policy, compiled);
  }
  return compiled;
}

export function compilePolicies(policies: readonly Authorization[]): CompiledPolicySet {
  return compiledSet(policies.map(compilePolicy));
}

export function compiledSet(compiled: readonly CompiledPolicy[]): CompiledPolicySet {
  const denies: CompiledPolicy[] = [];
  const allows: CompiledPolicy[] = [];
  let hasDryRun = false;
  for (const policy of compiled) {
    if (policy.dryRun) hasDryRun = true;
    else if (policy.action === 'DENY') denies.push(policy);
    else allows.push(policy);
  }
  return Object.freeze({
    policies: Object.freeze([...compiled]),
    denies: Object.freeze(denies),
    allows: Object.freeze(allows),
    hasDryRun,
  });
}

function buildPolicy(policy: Authorization): CompiledPolicy {
  const key = policy.key;
  const groups: CompiledGroup[] = [];
  for (const group of policy.groups) {
    const rules = compileRules(group.rules);
    if (rules !== undefined) groups.push(Object.freeze({ rules }));
  }
  const dryRunResult: DryRunResult =
    policy.action === 'DENY'
      ? Object.freeze({ kind: 'deny-matched', policy: key })
      : Object.freeze({ kind: 'allow-matched', policy: key });
  return Object.freeze({
    source: policy,
    key,
    action: policy.action,
    dryRun: policy.dryRun,
    groups: Object.freeze(groups),
    allowDecision: Object.freeze({ allowed: true, reason: 'allowed', policy: key, dryRun: EMPTY_DRY_RUN }),
    denyDecision: Object.freeze({
      allowed: false,
      reason: 'denied',
      policy: key,
      message: deniedMessage(key),
      dryRun: EMPTY_DRY_RUN,
    }),
    dryRunResult,
  });
}

/**
 * The rules that still need checking, or undefined when the group can never match. A rule with no
 * matches at all always matches (drop it); a rule whose matches are all empty never does, since
 * ztunnel skips empty matches (the whole group then never matches).
 */
function compileRules(rules: readonly AuthorizationRule[]): readonly CompiledRule[] | undefined {
  const compiled: CompiledRule[] = [];
  for (const rule of rules) {
    if (rule.matches.length === 0) continue;
    const matches: CompiledMatch[] = [];
    for (const match of rule.matches) {
      const built = compileMatch(match);
      if (built !== undefined) matches.push(built);
    }
    if (matches.length === 0) return undefined;
    compiled.push(Object.freeze({ matches: Object.freeze(matches) }));
  }
  return Object.freeze(compiled);
}

/** Undefined for an empty match: after dropping invalid CIDRs, as ztunnel does, no field is set. */
function compileMatch(match: AuthorizationMatch): CompiledMatch | undefined {
  const compiled: CompiledMatch = {
    destinationPorts: nonEmpty(match.destinationPorts),
    notDestinationPorts: nonEmpty(match.notDestinationPorts),
    destinationIps: cidrs(match.destinationIps),
    notDestinationIps: cidrs(match.notDestinationIps),
    sourceIps: cidrs(match.sourceIps),
    notSourceIps: cidrs(match.notSourceIps),
    principals: strings(match.principals),
    notPrincipals: strings(match.notPrincipals),
    namespaces: strings(match.namespaces),
    notNamespaces: strings(match.notNamespaces),
    serviceAccounts: nonEmpty(match.serviceAccounts),
    notServiceAccounts: nonEmpty(match.notServiceAccounts),
  };
  for (const field of Object.values(compiled) as unknown[])
    if (field !== null) return Object.freeze(compiled);
  return undefined;
}

function nonEmpty<T>(list: readonly T[]): readonly T[] | null {
  return list.length === 0 ? null : Object.freeze([...list]);
}

function cidrs(list: readonly CidrMatch[]): readonly CompiledCidr[] | null {
  const compiled: CompiledCidr[] = [];
  for (const cidr of list) {
    const built = compileCidr(cidr);
    if (built !== undefined) compiled.push(Object.freeze(built));
  }
  return compiled.length === 0 ? null : Object.freeze(compiled);
}

function strings(list: readonly StringMatch[]): readonly CompiledStringMatch[] | null {
  if (list.length === 0) return null;
  return Object.freeze(list.map(compileString));
}

function compileString(match: StringMatch): CompiledStringMatch {
  switch (match.kind) {
    case 'exact':
      return Object.freeze({ kind: STRING_EXACT, value: match.value });
    case 'prefix':
      return Object.freeze({ kind: STRING_PREFIX, value: match.value });
    case 'suffix':
      return Object.freeze({ kind: STRING_SUFFIX, value: match.value });
    case 'presence':
      return Object.freeze({ kind: STRING_PRESENCE, value: '' });
  }
}
