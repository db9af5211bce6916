import type { Authorization, AuthorizationMatch, StringMatch, Workload } from '@ambient/state';

/**
 * One line about a policy for the mesh overview: what it does to whom, and, for the common
 * "only these callers" shape, which callers; any other rule is only counted (the YAML says the rest).
 * `ALLOW on reviews: from cluster.local/ns/default/sa/productpage`.
 */
export function summarizePolicy(policy: Authorization, workloads: readonly Workload[]): string {
  const dryRun = policy.dryRun ? ' (dry run)' : '';
  return `${policy.action}${dryRun} on ${targetsOf(policy, workloads)}: ${rulesOf(policy)}`;
}

function targetsOf(policy: Authorization, workloads: readonly Workload[]): string {
  switch (policy.scope) {
    case 'GLOBAL':
      return 'every workload';
    case 'NAMESPACE':
      return `every workload in ${policy.namespace}`;
    case 'WORKLOAD_SELECTOR': {
      const selected = workloads
        .filter((w) => w.authorizationPolicies.includes(policy.key))
        .map((w) => w.name);
      return selected.length === 0 ? 'no workload (its selector matches none)' : selected.join(', ');
    }
  }
}

function rulesOf(policy: Authorization): string {
  if (policy.groups.length === 0) return 'no rules (matches nothing)';
  const matches = policy.groups.flatMap((group) => group.rules.flatMap((rule) => rule.matches));
  const ruleCount = policy.groups.reduce((sum, group) => sum + group.rules.length, 0);
  if (ruleCount === 0) return 'every connection';
  const principalsOnly = ruleCount === policy.groups.length && matches.every(onlyPrincipals);
  if (!principalsOnly) return `${String(ruleCount)} ${ruleCount === 1 ? 'rule' : 'rules'}`;
  return `from ${matches.flatMap((match) => match.principals.map(showMatch)).join(', ')}`;
}

function onlyPrincipals(match: AuthorizationMatch): boolean {
  return (
    match.principals.length > 0 &&
    Object.entries(match).every(
      ([field, values]) => field === 'principals' || (Array.isArray(values) && values.length === 0),
    )
  );
}

function showMatch(match: StringMatch): string {
  switch (match.kind) {
    case 'exact':
      return match.value;
    case 'prefix':
      return `${match.value}*`;
    case 'suffix':
      return `*${match.value}`;
    case 'presence':
      return '*';
  }
}
