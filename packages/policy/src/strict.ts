import { EMPTY_MATCH, createAuthorization, type Authorization } from '@ambient/state';

/** istiod's name for it; `_` cannot appear in a Kubernetes name, so no user policy can collide. */
export const STRICT_PEER_AUTHENTICATION_POLICY_NAME = 'istio_converted_static_strict';

const PRESENCE = Object.freeze({ kind: 'presence' as const });

/**
 * The DENY policy istiod sends for PeerAuthentication STRICT (`<root>/istio_converted_static_strict`)
 * and lists on every workload whose effective mode is STRICT: it matches any connection without a
 * peer identity, so plaintext is rejected and mTLS passes.
 */
export function strictPeerAuthenticationPolicy(rootNamespace: string): Authorization {
  return createAuthorization({
    name: STRICT_PEER_AUTHENTICATION_POLICY_NAME,
    namespace: rootNamespace,
    scope: 'WORKLOAD_SELECTOR',
    action: 'DENY',
    groups: Object.freeze([
      Object.freeze({
        rules: Object.freeze([
          Object.freeze({
            matches: Object.freeze([
              Object.freeze({ ...EMPTY_MATCH, notPrincipals: Object.freeze([PRESENCE]) }),
            ]),
          }),
        ]),
      }),
    ]),
  });
}
