import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrContains, compileCidr } from './cidr.js';
import { IpWords, parseIp } from './ip.js';

function canonical(text: string): IpWords {
  const out = new IpWords();
  parseIp(text, out);
  out.canonicalize();
  return out;
}

function contains(ip: string, prefixLength: number, address: string): boolean | undefined {
  const cidr = compileCidr({ ip, prefixLength });
  return cidr === undefined ? undefined : cidrContains(cidr, canonical(address));
}

describe('compileCidr and cidrContains', () => {
  it.each([
    ['10.0.0.0', 8, '10.255.1.2', true],
    ['10.0.0.0', 8, '11.0.0.0', false],
    ['10.1.2.3', 32, '10.1.2.3', true],
    ['10.1.2.3', 32, '10.1.2.4', false],
    ['0.0.0.0', 0, '203.0.113.9', true],
    ['127.0.1.77', 24, '127.0.1.1', true], // host bits in the CIDR are masked away
    ['192.168.0.0', 23, '192.168.1.255', true],
    ['192.168.0.0', 23, '192.168.2.0', false],
    ['128.0.0.0', 1, '255.255.255.255', true],
    ['128.0.0.0', 1, '127.255.255.255', false],
    ['10.0.0.0', 8, '::ffff:10.0.0.1', true], // a mapped peer counts as IPv4
    ['::ffff:10.0.0.0', 104, '10.9.9.9', true], // a mapped CIDR counts as IPv4
    ['::ffff:10.0.0.0', 104, '11.0.0.0', false],
    ['::ffff:0.0.0.0', 96, '198.51.100.1', true],
    ['::', 0, '10.0.0.1', false], // families never mix
    ['0.0.0.0', 0, '::1', false],
    ['::', 0, '2001:db8::1', true],
    ['fd00::', 64, 'fd00::5', true],
    ['fd00::', 64, 'fd00:0:0:1::5', false],
    ['fd00::1:0', 100, 'fd00::1:fff', true],
    ['fd00::1:0', 112, 'fd00::2:0', false],
    ['2001:db8::1', 128, '2001:db8::1', true],
    ['2001:db8::1', 128, '2001:db8::2', false],
    ['2001:db8:8000::', 33, '2001:db8:ffff::1', true],
    ['2001:db8:8000::', 33, '2001:db8:7fff::1', false],
    ['fd00::', 8, 'not an address', false],
  ] as const)('%s/%d contains %s: %s', (ip, prefixLength, address, expected) => {
    expect(contains(ip, prefixLength, address)).toBe(expected);
  });

  it.each([
    ['10.0.0.0', 33],
    ['10.0.0.0', -1],
    ['10.0.0.0', 8.5],
    ['::', 129],
    ['::ffff:10.0.0.0', 129],
    ['10.0.0.0/8', 8],
    ['', 0],
    ['example.com', 8],
  ] as const)('drops the invalid CIDR %s/%d', (ip, prefixLength) => {
    expect(compileCidr({ ip, prefixLength })).toBeUndefined();
  });

  it('keeps a mapped CIDR shorter than 96 bits as IPv6 (it then matches no IPv4 peer)', () => {
    expect(contains('::ffff:0.0.0.0', 80, '10.0.0.1')).toBe(false);
    expect(contains('::ffff:0.0.0.0', 80, '::1')).toBe(true);
  });

  const v4Pair = fc.record({
    network: fc.ipV4(),
    prefix: fc.integer({ min: 0, max: 32 }),
    address: fc.ipV4(),
  });
  const v6 = fc.ipV6().filter((ip) => !canonical(ip).mapped && canonical(ip).family === 6);
  const v6Pair = fc.record({ network: v6, prefix: fc.integer({ min: 0, max: 128 }), address: v6 });

  it('agrees with node:net BlockList for IPv4', () => {
    fc.assert(
      fc.property(v4Pair, ({ network, prefix, address }) => {
        const oracle = new BlockList();
        oracle.addSubnet(network, prefix, 'ipv4');
        expect(contains(network, prefix, address)).toBe(oracle.check(address, 'ipv4'));
      }),
      { numRuns: 2_000 },
    );
  });

  it('agrees with node:net BlockList for IPv6', () => {
    fc.assert(
      fc.property(v6Pair, ({ network, prefix, address }) => {
        const oracle = new BlockList();
        oracle.addSubnet(network, prefix, 'ipv6');
        expect(contains(network, prefix, address)).toBe(oracle.check(address, 'ipv6'));
      }),
      { numRuns: 2_000 },
    );
  });

  it('agrees with node:net BlockList for IPv6 addresses near the network', () => {
    // Random pairs rarely share a prefix; flip one bit of the network to test both sides of the mask.
    const nearPair = fc.record({ network: v6, prefix: fc.integer({ min: 1, max: 128 }), bit: fc.nat(127) });
    fc.assert(
      fc.property(nearPair, ({ network, prefix, bit }) => {
        const words = canonical(network);
        const all = [words.w0, words.w1, words.w2, words.w3];
        const index = bit >> 5;
        all[index] = (all[index] ?? 0) ^ (1 << (31 - (bit & 31)));
        const address = all
          .flatMap((word) => [((word >>> 16) & 0xffff).toString(16), (word & 0xffff).toString(16)])
          .join(':');
        // A flipped bit can land in `::ffff:0:0/96`, where we (on purpose) differ from BlockList.
        fc.pre(canonical(address).family === 6);
        const oracle = new BlockList();
        oracle.addSubnet(network, prefix, 'ipv6');
        expect(contains(network, prefix, address)).toBe(oracle.check(address, 'ipv6'));
        expect(contains(network, prefix, address)).toBe(bit >= prefix);
      }),
      { numRuns: 2_000 },
    );
  });
});
