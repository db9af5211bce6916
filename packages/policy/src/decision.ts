/**
 * What a dry-run policy would have done, in the order ztunnel logs them. Dry-run results never
 * change a decision; they are reported so operators can try a policy before enforcing it.
 */
export type DryRunResult =
  /** A dry-run DENY policy matched: enforcing it would deny this connection. */
  | { readonly kind: 'deny-matched'; readonly policy: string }
  /** A dry-run ALLOW policy matched. */
  | { readonly kind: 'allow-matched'; readonly policy: string }
  /** Dry-run ALLOW policies exist, no enforced ALLOW does, and none matched: enforcing them would deny. */
  | { readonly kind: 'no-allow-matched' };

export interface AllowedDecision {
  readonly allowed: true;
  /** `no-policies`: no enforced ALLOW policy applies (DENY policies may, but none matched). */
  readonly reason: 'no-policies' | 'allowed';
  /** The key (`namespace/name`) of the ALLOW policy that matched. */
  readonly policy?: string;
  readonly dryRun: readonly DryRunResult[];
}

export interface DeniedDecision {
  readonly allowed: false;
  /** `denied`: a DENY policy matched; `not-allowed`: ALLOW policies apply and none matched. */
  readonly reason: 'denied' | 'not-allowed';
  /** The key (`namespace/name`) of the DENY policy that matched. */
  readonly policy?: string;
  /** ztunnel's wording, which operators grep access logs for. */
  readonly message: string;
  readonly dryRun: readonly DryRunResult[];
}

export type AuthorizationDecision = AllowedDecision | DeniedDecision;

export const EMPTY_DRY_RUN: readonly DryRunResult[] = Object.freeze([]);

/** ztunnel's `AuthorizationRejectionError::NotAllowed` text. */
export const NOT_ALLOWED_MESSAGE = 'allow policies exist, but none allowed';

/** ztunnel's `AuthorizationRejectionError::ExplicitlyDenied` text for the policy `namespace/name`. */
export function deniedMessage(policyKey: string): string {
  return `explicitly denied by: ${policyKey}`;
}

export const NO_POLICIES_DECISION: AllowedDecision = Object.freeze({
  allowed: true,
  reason: 'no-policies',
  dryRun: EMPTY_DRY_RUN,
});

export const NOT_ALLOWED_DECISION: DeniedDecision = Object.freeze({
  allowed: false,
  reason: 'not-allowed',
  message: NOT_ALLOWED_MESSAGE,
  dryRun: EMPTY_DRY_RUN,
});

/**
 * One short line for logs and errors. A denial reads exactly as ztunnel's rejection reason, so
 * access logs look the same whichever ztunnel wrote them.
 */
export function describeDecision(decision: AuthorizationDecision): string {
  if (!decision.allowed) return decision.message;
  if (decision.reason === 'no-policies') return 'allowed: no allow policies apply';
  return `allowed by: ${decision.policy ?? 'unknown policy'}`;
}

/** ztunnel's wording for the dry-run log lines. */
export function describeDryRun(result: DryRunResult): string {
  switch (result.kind) {
    case 'deny-matched':
      return `dry-run: deny policy match: ${result.policy}`;
    case 'allow-matched':
      return `dry-run: allow policy match: ${result.policy}`;
    case 'no-allow-matched':
      return 'dry-run: no allow policies match';
  }
}
