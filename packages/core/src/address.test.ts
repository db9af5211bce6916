import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatSocketAddress, normalizeIp, parseAuthority, parseSocketAddress } from './address.js';

describe('parseAuthority', () => {
  it.each([
    ['1.2.3.4:80', { kind: 'ip', ip: '1.2.3.4', port: 80 }],
    ['[ff06::c3]:80', { kind: 'ip', ip: 'ff06::c3', port: 80 }],
    [
      'echo.default.svc.cluster.local:8080',
      { kind: 'hostname', hostname: 'echo.default.svc.cluster.local', port: 8080 },
    ],
    ['Echo.Default:1', { kind: 'hostname', hostname: 'echo.default', port: 1 }],
  ])('accepts %s', (text, expected) => {
    expect(parseAuthority(text)).toEqual(expected);
  });

  it.each([
    '',
    '1.2.3.4',
    '1.2.3.4:',
    '1.2.3.4:0',
    '1.2.3.4:65536',
    '1.2.3.4:80x',
    '1.2.3:80',
    '999.1.1.1:80',
    'ff06::c3:80',
    '[ff06::c3]80',
    '[1.2.3.4]:80',
    'host name:80',
    'under_score:80',
    '-leading.dash:80',
    ':80',
    'a..b:80',
  ])('rejects %j', (text) => {
    expect(parseAuthority(text)).toBeUndefined();
  });

  it('never throws, and what it accepts formats back to an equivalent authority', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const parsed = parseAuthority(text);
        if (parsed?.kind === 'ip')
          expect(parseAuthority(formatSocketAddress(parsed.ip, parsed.port))).toEqual(parsed);
      }),
    );
  });

  it('round-trips every IPv4 and IPv6 socket address', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
        const parsed = parseSocketAddress(formatSocketAddress(ip, port));
        expect(parsed?.port).toBe(port);
        expect(parsed && formatSocketAddress(parsed.ip, parsed.port)).toBe(formatSocketAddress(ip, port));
      }),
    );
  });
});

describe('normalizeIp', () => {
  it('unwraps IPv4-mapped IPv6 and leaves everything else', () => {
    expect(normalizeIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeIp('::ffff:abcd')).toBe('::ffff:abcd');
    expect(normalizeIp('::1')).toBe('::1');
  });
});
