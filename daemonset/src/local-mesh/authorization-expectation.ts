import { describeDecision, evaluate } from '@ambient/policy';
import type { ProxyState, Workload } from '@ambient/state';

/**
 * What the destination's ztunnel should decide about a caller, worked out from the policies the
 * mesh config has now (with the same evaluation the ztunnel runs), so that a tour step is judged
 * against the policies in force rather than a fixed expectation: delete the example's policy and
 * `sleep → reviews` is expected to get through.
 */
export type ExpectedAuthorization =
  | {
      readonly allowed: true;
      /** `allowed: no allow policies apply`, `allowed by: default/x`, or why nothing is enforced. */
      readonly reason: string;
    }
  | {
      readonly allowed: false;
      /** ztunnel's words, as its access log has them: `allow policies exist, but none allowed`. */
      readonly message: string;
      /** Keys of the policies that apply to the destination (one of them decided, or all of them did). */
      readonly policies: readonly string[];
    };

/** For destinations no ztunnel stands in front of: nothing there enforces a policy. */
export const NOT_ENFORCED: ExpectedAuthorization = Object.freeze({
  allowed: true,
  reason: 'no ztunnel in front of it enforces policies',
});

export interface Peer {
  readonly workload: Workload;
  readonly ip: string;
}

/** The decision for a connection from `source` to `destination.ip:port` under `state`'s policies. */
export function expectAuthorization(
  state: ProxyState,
  source: Peer,
  destination: Peer & { readonly port: number },
): ExpectedAuthorization {
  const { policies } = state.authorizationsFor(destination.workload);
  const decision = evaluate(policies, {
    sourceIp: source.ip,
    destinationIp: destination.ip,
    destinationPort: destination.port,
    // Only a caller in the mesh proves an identity (its certificate); anyone else is plaintext.
    sourceIdentity: source.workload.tunnelProtocol === 'HBONE' ? source.workload.identity : undefined,
  });
  if (decision.allowed) return { allowed: true, reason: describeDecision(decision) };
  return { allowed: false, message: decision.message, policies: policies.map((policy) => policy.key) };
}
