/**
 * The L4 authorization policies ztunnel enforces, shaped like `istio.security.Authorization` (the xDS
 * resource istiod sends) with addresses already parsed. Converters validate; these types only carry.
 */

/** Which workloads a policy applies to (reference §5.1). */
export type AuthorizationScope = 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';

export type AuthorizationAction = 'ALLOW' | 'DENY';

/** Istio's string forms: `x` exact, `x*` prefix, `*x` suffix, `*` presence. */
export type StringMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'suffix'; readonly value: string }
  | { readonly kind: 'presence' };

export interface ServiceAccountMatch {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** A CIDR: `ip` in normalised text form, `prefixLength` 0..32 (IPv4) or 0..128 (IPv6). */
export interface CidrMatch {
  readonly ip: string;
  readonly prefixLength: number;
}

/**
 * Every populated field must match; a positive list matches when any element does, a negative list
 * when none does. A match with no populated field is skipped by evaluation (ztunnel's rule).
 */
export interface AuthorizationMatch {
  readonly namespaces: readonly StringMatch[];
  readonly notNamespaces: readonly StringMatch[];
  readonly serviceAccounts: readonly ServiceAccountMatch[];
  readonly notServiceAccounts: readonly ServiceAccountMatch[];
  readonly principals: readonly StringMatch[];
  readonly notPrincipals: readonly StringMatch[];
  readonly sourceIps: readonly CidrMatch[];
  readonly notSourceIps: readonly CidrMatch[];
  readonly destinationIps: readonly CidrMatch[];
  readonly notDestinationIps: readonly CidrMatch[];
  readonly destinationPorts: readonly number[];
  readonly notDestinationPorts: readonly number[];
}

/** Matches when any of its matches does. */
export interface AuthorizationRule {
  readonly matches: readonly AuthorizationMatch[];
}

/** Matches when all of its rules do (zero rules: matches everything). */
export interface AuthorizationGroup {
  readonly rules: readonly AuthorizationRule[];
}

export interface Authorization {
  readonly name: string;
  readonly namespace: string;
  readonly scope: AuthorizationScope;
  readonly action: AuthorizationAction;
  /** The policy matches when any group does; zero groups never match. */
  readonly groups: readonly AuthorizationGroup[];
  /** Evaluated and logged, never enforced. */
  readonly dryRun: boolean;
  /** `namespace/name`: the xDS resource name and how workloads list selector-scoped policies. */
  readonly key: string;
}

export function authorizationKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

const EMPTY: readonly never[] = Object.freeze([]);

/** A match with every list empty; spread it and set the fields a rule populates. */
export const EMPTY_MATCH: AuthorizationMatch = Object.freeze({
  namespaces: EMPTY,
  notNamespaces: EMPTY,
  serviceAccounts: EMPTY,
  notServiceAccounts: EMPTY,
  principals: EMPTY,
  notPrincipals: EMPTY,
  sourceIps: EMPTY,
  notSourceIps: EMPTY,
  destinationIps: EMPTY,
  notDestinationIps: EMPTY,
  destinationPorts: EMPTY,
  notDestinationPorts: EMPTY,
});

export interface AuthorizationInit {
  readonly name: string;
  readonly namespace: string;
  readonly scope: AuthorizationScope;
  readonly action: AuthorizationAction;
  readonly groups: readonly AuthorizationGroup[];
  readonly dryRun?: boolean;
}

export function createAuthorization(init: AuthorizationInit): Authorization {
  return Object.freeze({
    name: init.name,
    namespace: init.namespace,
    scope: init.scope,
    action: init.action,
    groups: init.groups,
    dryRun: init.dryRun ?? false,
    key: authorizationKey(init.namespace, init.name),
  });
}
