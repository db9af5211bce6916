import type { ProxyState } from '@ambient/state';
import type { Caller } from './authn.js';

/** Which workload identities run on a node: what lets a node agent ask for them. */
export interface WorkloadDirectory {
  identitiesOnNode(node: string): ReadonlySet<string>;
}

/** The directory backed by the workloads the control plane knows (LOCAL_XDS_PATH, Kubernetes). */
export function workloadDirectoryFromState(state: ProxyState): WorkloadDirectory {
  return {
    identitiesOnNode: (node) => new Set(state.workloadsOnNode(node).map((workload) => workload.identity)),
  };
}

export type AuthorizationDecision =
  | { readonly allowed: true; readonly identity: string }
  | { readonly allowed: false; readonly reason: string };

/**
 * Which identity this caller gets, as istiod decides it: without `ImpersonatedIdentity`, its
 * own; with it, a workload still only its own, a node agent that of a workload on its node (at
 * least one pod with that identity must run there, istiod's node authorizer rule).
 */
export function authorizeIdentity(
  caller: Caller,
  impersonatedIdentity: string | undefined,
  workloads: WorkloadDirectory,
): AuthorizationDecision {
  const requested = impersonatedIdentity ?? caller.identity;
  if (requested === undefined) {
    return {
      allowed: false,
      reason: 'a node agent must name the identity it asks for (ImpersonatedIdentity)',
    };
  }
  if (requested === caller.identity) return { allowed: true, identity: requested };
  if (caller.kind === 'workload') {
    return {
      allowed: false,
      reason: `a workload may only get its own identity (${caller.identity}), not ${requested}`,
    };
  }
  if (workloads.identitiesOnNode(caller.node).has(requested)) return { allowed: true, identity: requested };
  return { allowed: false, reason: `no workload with identity ${requested} runs on node ${caller.node}` };
}
