import { EMPTY_MATCH, createAuthorization } from '@ambient/state';
import { describe, expect, it } from 'vitest';
import { evaluate } from './evaluate.js';
import { STRICT_PEER_AUTHENTICATION_POLICY_NAME, strictPeerAuthenticationPolicy } from './strict.js';
import { EVERYTHING, allow, connection, oneMatch, plaintext, presence } from './test-fixtures.js';

describe('strictPeerAuthenticationPolicy', () => {
  const strict = strictPeerAuthenticationPolicy('istio-system');

  it("is istiod's static STRICT policy", () => {
    expect(STRICT_PEER_AUTHENTICATION_POLICY_NAME).toBe('istio_converted_static_strict');
    expect(strict).toEqual(
      createAuthorization({
        name: 'istio_converted_static_strict',
        namespace: 'istio-system',
        scope: 'WORKLOAD_SELECTOR',
        action: 'DENY',
        groups: [{ rules: [{ matches: [{ ...EMPTY_MATCH, notPrincipals: [{ kind: 'presence' }] }] }] }],
      }),
    );
    expect(strict.key).toBe('istio-system/istio_converted_static_strict');
    expect(strictPeerAuthenticationPolicy('mesh-root').key).toBe('mesh-root/istio_converted_static_strict');
  });

  it.each([
    ['plaintext', plaintext(), false],
    ['plaintext on any port', plaintext({ destinationPort: 15_008 }), false],
    [
      'a peer certificate without a workload identity',
      connection({ sourceIdentity: 'spiffe://td/other' }),
      false,
    ],
    ['mTLS', connection(), true],
    ['mTLS from another trust domain', connection({ sourceIdentity: 'spiffe://other.td/ns/a/sa/b' }), true],
  ] as const)('%s → allowed: %s', (_what, conn, allowed) => {
    const decision = evaluate([strict], conn);
    expect(decision.allowed).toBe(allowed);
    if (!decision.allowed) {
      expect(decision.message).toBe('explicitly denied by: istio-system/istio_converted_static_strict');
    }
  });

  it('still denies plaintext when an ALLOW would let it in', () => {
    expect(evaluate([allow('all', EVERYTHING), strict], plaintext()).allowed).toBe(false);
    expect(evaluate([allow('all', EVERYTHING), strict], connection()).allowed).toBe(true);
  });

  it('with a PERMISSIVE port exception (STRICT, port 9090 PERMISSIVE), as istiod converts it', () => {
    const converted = createAuthorization({
      name: 'converted_peer_authentication_strict-but-metrics',
      namespace: 'ns1',
      scope: 'WORKLOAD_SELECTOR',
      action: 'DENY',
      groups: [
        {
          rules: [
            ...(oneMatch({ notPrincipals: [presence] })[0]?.rules ?? []),
            ...(oneMatch({ notDestinationPorts: [9090] })[0]?.rules ?? []),
          ],
        },
      ],
    });
    expect(evaluate([converted], plaintext({ destinationPort: 8080 })).allowed).toBe(false);
    expect(evaluate([converted], plaintext({ destinationPort: 9090 })).allowed).toBe(true);
    expect(evaluate([converted], connection({ destinationPort: 8080 })).allowed).toBe(true);
    expect(evaluate([converted], connection({ destinationPort: 9090 })).allowed).toBe(true);
  });
});
