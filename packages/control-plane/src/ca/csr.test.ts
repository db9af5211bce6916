import { describe, expect, it } from 'vitest';
import { checkCsr } from './csr.js';
import { makeCsr, spiffeId } from './test-fixtures.js';

const SLEEP = spiffeId('default', 'sleep');

describe('checkCsr', () => {
  it('accepts a ztunnel-shaped CSR and reads its identity', async () => {
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const checked = await checkCsr(csrPem);
    expect(checked.ok && checked.csr.identityUri).toBe(SLEEP);
  });

  it('ignores SANs other than URIs', async () => {
    const { csrPem } = await makeCsr({ uris: [SLEEP], dnsNames: ['sleep.default.svc'] });
    expect((await checkCsr(csrPem)).ok).toBe(true);
  });

  const refusals: [string, () => Promise<string>, RegExp][] = [
    ['not PEM', () => Promise.resolve('hello'), /not one PEM "CERTIFICATE REQUEST" block/],
    [
      'PEM of garbage',
      () => Promise.resolve('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'),
      /cannot be parsed/,
    ],
    [
      'a forged signature',
      async () => (await makeCsr({ uris: [SLEEP], forgedSignature: true })).csrPem,
      /does not verify/,
    ],
    [
      'no URI SAN',
      async () => (await makeCsr({ dnsNames: ['a.example'] })).csrPem,
      /exactly one URI SAN, found 0/,
    ],
    [
      'two URI SANs',
      async () => (await makeCsr({ uris: [SLEEP, spiffeId('default', 'other')] })).csrPem,
      /exactly one URI SAN, found 2/,
    ],
    [
      'a URI that is no workload id',
      async () => (await makeCsr({ uris: ['spiffe://cluster.local/ns/default'] })).csrPem,
      /is not a SPIFFE workload id/,
    ],
  ];
  it.each(refusals)('refuses %s', async (_name, make, reason) => {
    const checked = await checkCsr(await make());
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.reason).toMatch(reason);
  });
});
