import { SocketAddress } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToIp, ipToBytes, maxPrefixBits } from './ip-bytes.js';

/** Node's own text for an IPv6 address: what a socket reports for a peer. */
function nodeText(address: string): string {
  return new SocketAddress({ address, family: 'ipv6' }).address;
}

describe('bytesToIp', () => {
  it.each([
    [[127, 0, 0, 1], '127.0.0.1'],
    [[0, 0, 0, 0], '0.0.0.0'],
    [[255, 255, 255, 255], '255.255.255.255'],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3], '::ffff:10.1.2.3'],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], '2001:db8::1:0:0:1'],
    [[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 0, 0, 0, 0, 0], 'fe80::abcd:0:0:0'],
  ])('%j → %s', (bytes, text) => {
    expect(bytesToIp(Uint8Array.from(bytes))).toBe(text);
  });

  it.each([0, 1, 3, 5, 15, 17])('refuses %i bytes', (length) => {
    expect(bytesToIp(new Uint8Array(length))).toBeUndefined();
  });
});

describe('ipToBytes', () => {
  it.each([
    ['10.1.2.3', [10, 1, 2, 3]],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['::', new Array<number>(16).fill(0)],
    ['2001:DB8::1', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
    ['1:2:3:4:5:6:7:8', [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
    ['1::', [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    ['::ffff:1.2.3.4', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]],
    ['64:ff9b::192.0.2.33', [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 33]],
  ])('%s', (text, bytes) => {
    expect([...(ipToBytes(text) ?? [])]).toEqual(bytes);
  });

  it.each([
    '',
    'localhost',
    '1.2.3',
    '1.2.3.256',
    '01.2.3.4',
    '1:2:3:4:5:6:7:8:9',
    'fe80::1%eth0',
    '1::2::3',
  ])('refuses %j', (text) => {
    expect(ipToBytes(text)).toBeUndefined();
  });
});

describe('bytes ↔ text', () => {
  it('IPv4 round-trips exactly', () => {
    fc.assert(
      fc.property(fc.ipV4(), (text) => {
        const bytes = ipToBytes(text);
        expect(bytes).toHaveLength(4);
        expect(bytesToIp(bytes ?? new Uint8Array())).toBe(text);
      }),
    );
  });

  it('IPv6 text of any form comes back in the form Node reports peers in', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const bytes = ipToBytes(text);
        expect(bytes).toHaveLength(16);
        expect(bytesToIp(bytes ?? new Uint8Array())).toBe(nodeText(text));
      }),
    );
  });

  it('any 16 bytes survive bytes → text → bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const text = bytesToIp(bytes) ?? '';
        expect([...(ipToBytes(text) ?? [])]).toEqual([...bytes]);
      }),
    );
  });

  it('prefixes hold 32 bits for IPv4 and 128 for IPv6', () => {
    expect(maxPrefixBits(new Uint8Array(4))).toBe(32);
    expect(maxPrefixBits(new Uint8Array(16))).toBe(128);
  });
});
