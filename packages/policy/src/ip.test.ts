import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpWords, parseIp } from './ip.js';

function parsed(text: string): IpWords {
  const out = new IpWords();
  parseIp(text, out);
  return out;
}

/** The eight groups, fully written out, so that `URL` can canonicalise them for comparison. */
function expanded(ip: IpWords): string {
  const groups: string[] = [];
  for (const word of [ip.w0, ip.w1, ip.w2, ip.w3]) {
    groups.push(((word >>> 16) & 0xffff).toString(16), (word & 0xffff).toString(16));
  }
  return groups.join(':');
}

function canonicalIpv6(text: string): string {
  return new URL(`http://[${text}]/`).hostname;
}

describe('parseIp', () => {
  it.each([
    ['0.0.0.0', 4, [0, 0, 0, 0]],
    ['127.0.0.1', 4, [0x7f000001, 0, 0, 0]],
    ['255.255.255.255', 4, [-1, 0, 0, 0]],
    ['10.1.2.3', 4, [0x0a010203, 0, 0, 0]],
    ['::', 6, [0, 0, 0, 0]],
    ['::1', 6, [0, 0, 0, 1]],
    ['1::', 6, [0x00010000, 0, 0, 0]],
    ['fd00::5', 6, [0xfd000000 | 0, 0, 0, 5]],
    ['2001:db8:0:0:1:0:0:1', 6, [0x20010db8, 0, 0x00010000, 1]],
    ['2001:DB8::1:0:0:1', 6, [0x20010db8, 0, 0x00010000, 1]],
    ['1:2:3:4:5:6:7:8', 6, [0x00010002, 0x00030004, 0x00050006, 0x00070008]],
    ['1:2:3:4:5:6:7::', 6, [0x00010002, 0x00030004, 0x00050006, 0x00070000]],
    ['::2:3:4:5:6:7:8', 6, [0x00000002, 0x00030004, 0x00050006, 0x00070008]],
    ['64:ff9b::1.2.3.4', 6, [0x0064ff9b, 0, 0, 0x01020304]],
    ['fe80::1%eth0', 6, [0xfe800000 | 0, 0, 0, 1]],
  ] as const)('%s → IPv%d words %j', (text, family, words) => {
    const ip = parsed(text);
    expect(ip.family).toBe(family);
    expect([ip.w0, ip.w1, ip.w2, ip.w3]).toEqual(words);
    expect(ip.mapped).toBe(false);
  });

  it.each(['::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:127.0.0.1', '::FFFF:7F00:1'])(
    'marks %s as IPv4-mapped and canonicalises it to 127.0.0.1',
    (text) => {
      const ip = parsed(text);
      expect(ip.family).toBe(6);
      expect(ip.mapped).toBe(true);
      ip.canonicalize();
      expect(ip.family).toBe(4);
      expect([ip.w0, ip.w1, ip.w2, ip.w3]).toEqual([0x7f000001, 0, 0, 0]);
    },
  );

  it('leaves a non-mapped address alone when canonicalising', () => {
    const ip = parsed('::1');
    ip.canonicalize();
    expect(ip.family).toBe(6);
    expect(ip.w3).toBe(1);
  });

  it.each([
    '',
    'localhost',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '01.2.3.4',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1..2.3',
    '1.2.3.4%eth0',
    ':',
    ':::',
    ':1',
    '1:',
    '1:::2',
    '1::2::3',
    '12345::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    'g::1',
    '::1.2.3',
    '1.2.3.4::',
    '::1.2.3.4:5',
    '1:2:3:4:5:6:7:1.2.3.4',
    'fe80::1%',
    'fe80::1%a%b',
    'fe80::1%a b',
  ])('rejects %j', (text) => {
    expect(parsed(text).family).toBe(0);
  });

  it('agrees with node:net isIP on arbitrary strings of address characters', () => {
    const unit = fc.constantFrom(...Array.from('0123456789abcdefABCDEFxz:.%-_ '));
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 24 }), (text) => {
        expect(parsed(text).family).toBe(isIP(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with node:net isIP on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(parsed(text).family).toBe(isIP(text));
      }),
    );
  });

  it('reads every IPv4 address to the number it spells', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        const ip = parsed(text);
        expect(ip.family).toBe(4);
        const octets = text.split('.').map(Number);
        expect(ip.w0 >>> 0).toBe(octets.reduce((value, octet) => value * 256 + octet, 0));
      }),
    );
  });

  it('reads every IPv6 address to the groups it spells', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const ip = parsed(text);
        expect(ip.family).toBe(6);
        expect(canonicalIpv6(expanded(ip))).toBe(canonicalIpv6(text));
      }),
    );
  });
});
