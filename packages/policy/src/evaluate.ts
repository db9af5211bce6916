import type { Authorization } from '@ambient/state';
import {
  compiledSet,
  compilePolicies,
  compilePolicy,
  type CompiledPolicy,
  type CompiledPolicySet,
} from './compile.js';
import { ConnectionInput, type ConnectionAttributes } from './connection.js';
import {
  NOT_ALLOWED_DECISION,
  NO_POLICIES_DECISION,
  type AuthorizationDecision,
  type DryRunResult,
} from './decision.js';
import { policyMatches } from './match.js';

/** Evaluation is synchronous and calls nothing outside this package, so one input object serves all. */
const input = new ConnectionInput();
/** Reused list of the compiled policies of one `evaluate` call: no array per connection. */
const compiledScratch: CompiledPolicy[] = [];

const NO_ALLOW_MATCHED: DryRunResult = Object.freeze({ kind: 'no-allow-matched' });

/**
 * A frozen list cannot change, so its compiled form can be kept with it: the store hands out the
 * same frozen list for every connection to a namespace's workloads. Mutable lists are compiled
 * per call (from per-policy caches), since one might change after we looked.
 */
const compiledByFrozenList = new WeakMap<readonly Authorization[], CompiledPolicySet>();

/**
 * Decide whether a connection may reach the workload these policies apply to (the output of
 * `ProxyState.authorizationsFor`). Each policy is compiled once per `Authorization` object.
 */
export function evaluate(
  policies: readonly Authorization[],
  conn: ConnectionAttributes,
): AuthorizationDecision {
  if (policies.length === 0) return NO_POLICIES_DECISION;
  if (Object.isFrozen(policies)) {
    let set = compiledByFrozenList.get(policies);
    if (set === undefined) {
      set = compilePolicies(policies);
      compiledByFrozenList.set(policies, set);
    }
    return evaluateSet(set, conn);
  }
  compiledScratch.length = 0;
  for (const policy of policies) compiledScratch.push(compilePolicy(policy));
  try {
    return evaluateSet(compiledSet(compiledScratch), conn);
  } finally {
    compiledScratch.length = 0;
  }
}

/** The same decision over a set compiled ahead of time with `compilePolicies`. */
export function evaluateCompiled(set: CompiledPolicySet, conn: ConnectionAttributes): AuthorizationDecision {
  return evaluateSet(set, conn);
}

/**
 * ztunnel's order (reference §5.2): dry-run DENY (reported) → any DENY matches ⇒ deny → dry-run
 * ALLOW (reported) → no ALLOW policy ⇒ allow → any ALLOW matches ⇒ allow → deny. Every dry-run
 * policy of a stage is evaluated; enforced ones stop at the first match, which names the decision.
 */
function evaluateSet(set: CompiledPolicySet, conn: ConnectionAttributes): AuthorizationDecision {
  if (set.policies.length === 0) return NO_POLICIES_DECISION;
  input.reset(conn);
  const decision = set.hasDryRun ? decide(set.policies) : decideEnforced(set);
  // Hold no connection between calls.
  input.reset(undefined);
  return decision;
}

/**
 * The same order as `decide` when no policy is dry-run: each policy is looked at once, none twice.
 * Indexed loops, as in match.ts (iterators measured slower on this per-connection path).
 */
/* eslint-disable @typescript-eslint/prefer-for-of */
function decideEnforced(set: CompiledPolicySet): AuthorizationDecision {
  const { denies, allows } = set;
  for (let i = 0; i < denies.length; i++) {
    const policy = denies[i];
    if (policy === undefined) continue;
    if (policyMatches(policy, input)) return policy.denyDecision;
  }
  if (allows.length === 0) return NO_POLICIES_DECISION;
  for (let i = 0; i < allows.length; i++) {
    const policy = allows[i];
    if (policy === undefined) continue;
    if (policyMatches(policy, input)) return policy.allowDecision;
  }
  return NOT_ALLOWED_DECISION;
}
/* eslint-enable @typescript-eslint/prefer-for-of */

function decide(policies: readonly CompiledPolicy[]): AuthorizationDecision {
  let dryRun: DryRunResult[] | undefined;

  let deniedBy: CompiledPolicy | undefined;
  for (const policy of policies) {
    if (policy.action !== 'DENY') continue;
    if (policy.dryRun) {
      if (policyMatches(policy, input)) (dryRun ??= []).push(policy.dryRunResult);
    } else if (deniedBy === undefined && policyMatches(policy, input)) {
      deniedBy = policy;
    }
  }
  if (deniedBy !== undefined) {
    const decision = deniedBy.denyDecision;
    return dryRun === undefined ? decision : { ...decision, dryRun };
  }

  let enforcedAllows = 0;
  let dryRunAllows = 0;
  let dryRunAllowMatched = false;
  let allowedBy: CompiledPolicy | undefined;
  for (const policy of policies) {
    if (policy.action !== 'ALLOW') continue;
    if (policy.dryRun) {
      dryRunAllows++;
      if (policyMatches(policy, input)) {
        dryRunAllowMatched = true;
        (dryRun ??= []).push(policy.dryRunResult);
      }
    } else {
      enforcedAllows++;
      if (allowedBy === undefined && policyMatches(policy, input)) allowedBy = policy;
    }
  }
  if (enforcedAllows === 0) {
    if (dryRunAllows > 0 && !dryRunAllowMatched) (dryRun ??= []).push(NO_ALLOW_MATCHED);
    return dryRun === undefined ? NO_POLICIES_DECISION : { ...NO_POLICIES_DECISION, dryRun };
  }
  const decision = allowedBy === undefined ? NOT_ALLOWED_DECISION : allowedBy.allowDecision;
  return dryRun === undefined ? decision : { ...decision, dryRun };
}
