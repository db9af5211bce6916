import { parseIdentity } from '@ambient/identity';

/** The parts of a peer's SPIFFE identity that policies compare against. */
export interface PeerIdentity {
  /** The identity without `spiffe://`: how AuthorizationPolicy principals are written. */
  readonly principal: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

const SPIFFE_SCHEME = 'spiffe://';

/**
 * Callers are few (one identity per service account) while connections are many, so parsed
 * identities are remembered. The bound keeps a flood of distinct certificates from growing memory;
 * dropping everything when full is simpler than an LRU and the working set refills at once.
 */
const IDENTITY_CACHE_MAX_ENTRIES = 4096;
const cache = new Map<string, PeerIdentity | null>();

/**
 * The identity in a peer's SPIFFE URI, or undefined when it is not a workload identity: ztunnel has
 * no identity at all for such a peer, so it is treated like plaintext.
 */
export function peerIdentity(uri: string): PeerIdentity | undefined {
  const cached = cache.get(uri);
  if (cached !== undefined) return cached ?? undefined;
  const parsed = parseIdentity(uri);
  const identity: PeerIdentity | null =
    parsed === undefined
      ? null
      : Object.freeze({
          principal: uri.slice(SPIFFE_SCHEME.length),
          namespace: parsed.namespace,
          serviceAccount: parsed.serviceAccount,
        });
  if (cache.size >= IDENTITY_CACHE_MAX_ENTRIES) cache.clear();
  cache.set(uri, identity);
  return identity ?? undefined;
}

/** How many URIs are remembered now (for tests of the bound). */
export function cachedIdentityCount(): number {
  return cache.size;
}
