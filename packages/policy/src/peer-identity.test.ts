import { describe, expect, it } from 'vitest';
import { cachedIdentityCount, peerIdentity } from './peer-identity.js';

describe('peerIdentity', () => {
  it('splits a workload identity into what policies compare', () => {
    expect(peerIdentity('spiffe://cluster.local/ns/default/sa/client')).toEqual({
      principal: 'cluster.local/ns/default/sa/client',
      namespace: 'default',
      serviceAccount: 'client',
    });
  });

  it.each([
    '',
    'cluster.local/ns/default/sa/client',
    'spiffe://cluster.local/ns/default',
    'spiffe://cluster.local/ns/default/sa/client/extra',
    'spiffe://cluster.local/sa/client/ns/default',
    'https://cluster.local/ns/default/sa/client',
  ])('has no identity for %j', (uri) => {
    expect(peerIdentity(uri)).toBeUndefined();
    expect(peerIdentity(uri)).toBeUndefined(); // the remembered answer too
  });

  it('answers the same from its cache, and stays right past the cache bound', () => {
    const first = peerIdentity('spiffe://td/ns/a/sa/b');
    expect(peerIdentity('spiffe://td/ns/a/sa/b')).toBe(first);
    for (let i = 0; i < 10_000; i++) {
      expect(peerIdentity(`spiffe://td/ns/n${String(i)}/sa/s`)?.namespace).toBe(`n${String(i)}`);
      expect(cachedIdentityCount()).toBeLessThanOrEqual(4096);
    }
    expect(peerIdentity('spiffe://td/ns/a/sa/b')).toEqual(first);
    expect(peerIdentity('spiffe://td/ns/a/sa/')).toBeUndefined();
  });
});
