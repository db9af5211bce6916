import { describe, expect, it } from 'vitest';
import {
  describeDecision,
  describeDryRun,
  type AuthorizationDecision,
  type DryRunResult,
} from './decision.js';
import { evaluate } from './evaluate.js';
import { EVERYTHING, allow, connection, deny } from './test-fixtures.js';

describe('describeDecision', () => {
  it.each([
    [[], 'allowed: no allow policies apply'],
    [[deny('d', [])], 'allowed: no allow policies apply'],
    [[allow('a', EVERYTHING)], 'allowed by: ns1/a'],
    [[deny('d', EVERYTHING)], 'explicitly denied by: ns1/d'],
    [[allow('a', [])], 'allow policies exist, but none allowed'],
    [[deny('d', EVERYTHING), deny('dry', EVERYTHING, true)], 'explicitly denied by: ns1/d'],
  ] as const)('%j → %s', (policies, text) => {
    expect(describeDecision(evaluate(policies, connection()))).toBe(text);
  });

  it('names an ALLOW decision without a policy plainly', () => {
    const decision: AuthorizationDecision = { allowed: true, reason: 'allowed', dryRun: [] };
    expect(describeDecision(decision)).toBe('allowed by: unknown policy');
  });
});

describe('describeDryRun', () => {
  it.each([
    [{ kind: 'deny-matched', policy: 'ns/a' }, 'dry-run: deny policy match: ns/a'],
    [{ kind: 'allow-matched', policy: 'ns/b' }, 'dry-run: allow policy match: ns/b'],
    [{ kind: 'no-allow-matched' }, 'dry-run: no allow policies match'],
  ] as const satisfies readonly (readonly [DryRunResult, string])[])('%j → %s', (result, text) => {
    expect(describeDryRun(result)).toBe(text);
  });
});
