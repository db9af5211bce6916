import type { ConvertedAuthorization } from './authorization-policy.js';
import { selectsAll, type Labels } from './labels.js';
import type { PeerAuthenticationResult } from './peer-authentication.js';

/**
 * Which policy keys a workload lists (`Workload.authorization_policies`): the selector-scoped
 * AuthorizationPolicies of its namespace and of the root namespace whose selector matches its labels,
 * sorted, then the keys its effective PeerAuthentication mode calls for. Namespace and global
 * policies are never listed: ztunnel finds those by scope.
 */
export class PolicyAttachment {
  private readonly selectorPolicies: readonly ConvertedAuthorization[];

  constructor(
    authorizations: readonly ConvertedAuthorization[],
    private readonly peerAuthentication: PeerAuthenticationResult,
    private readonly rootNamespace: string,
  ) {
    this.selectorPolicies = authorizations.filter((p) => p.selector !== undefined);
  }

  keysFor(namespace: string, labels: Labels): string[] {
    const keys = this.selectorPolicies
      .filter(
        (p) =>
          (p.authorization.namespace === namespace || p.authorization.namespace === this.rootNamespace) &&
          selectsAll(p.selector ?? {}, labels),
      )
      .map((p) => p.authorization.key)
      .sort();
    return [...keys, ...this.peerAuthentication.keysFor(namespace, labels)];
  }
}
