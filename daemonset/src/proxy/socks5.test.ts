import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRequest, replyPacket, Socks5Reply } from './socks5.js';

const request = (...bytes: number[]) => Buffer.from(bytes);

describe('SOCKS5 request parsing', () => {
  it.each<[string, Buffer, unknown]>([
    [
      'IPv4',
      request(5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90),
      { target: { kind: 'ip', ip: '127.0.0.1', port: 8080 }, length: 10 },
    ],
    [
      'IPv6',
      request(5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80),
      { target: { kind: 'ip', ip: '::1', port: 80 }, length: 22 },
    ],
    [
      'a domain',
      Buffer.concat([request(5, 1, 0, 3, 4), Buffer.from('Echo'), request(0, 80)]),
      { target: { kind: 'domain', hostname: 'echo', port: 80 }, length: 11 },
    ],
    [
      'a domain that is an IP literal',
      Buffer.concat([request(5, 1, 0, 3, 7), Buffer.from('1.2.3.4'), request(0, 80)]),
      { target: { kind: 'ip', ip: '1.2.3.4', port: 80 }, length: 14 },
    ],
  ])('reads %s', (_name, bytes, expected) => {
    expect(parseRequest(bytes)).toEqual(expected);
  });

  it.each<[string, Buffer, number]>([
    ['BIND', request(5, 2, 0, 1, 1, 2, 3, 4, 0, 80), Socks5Reply.CommandNotSupported],
    ['an unknown address type', request(5, 1, 0, 9, 1, 2, 3, 4, 0, 80), Socks5Reply.AddressTypeNotSupported],
    ['port 0', request(5, 1, 0, 1, 1, 2, 3, 4, 0, 0), Socks5Reply.HostUnreachable],
    ['an empty domain', request(5, 1, 0, 3, 0, 0, 80), Socks5Reply.HostUnreachable],
    [
      'a domain with a slash',
      Buffer.concat([request(5, 1, 0, 3, 3), Buffer.from('a/b'), request(0, 80)]),
      Socks5Reply.HostUnreachable,
    ],
    ['version 4', request(4, 1, 0, 1, 1, 2, 3, 4, 0, 80), Socks5Reply.GeneralFailure],
  ])('refuses %s with the matching reply', (_name, bytes, reply) => {
    expect(parseRequest(bytes)).toMatchObject({ reply });
  });

  it('waits for the rest of a request that arrived in pieces', () => {
    const whole = request(5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90);
    for (let cut = 0; cut < whole.length; cut++)
      expect(parseRequest(whole.subarray(0, cut))).toBe('incomplete');
  });

  it('never throws on arbitrary bytes and never claims more bytes than it got', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const parsed = parseRequest(Buffer.from(bytes));
        if (typeof parsed === 'object' && 'length' in parsed)
          expect(parsed.length).toBeLessThanOrEqual(bytes.length);
      }),
    );
  });

  it('writes 10-byte replies', () => {
    expect([...replyPacket(Socks5Reply.Succeeded)]).toEqual([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  });
});
