import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstIdentity, formatIdentity, parseIdentity, urisFromSubjectAltName } from './spiffe.js';

const trustDomainArb = fc.stringMatching(/^[a-z0-9._-]{1,20}$/).filter((s) => s !== '.' && s !== '..');
const segmentArb = fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/).filter((s) => s !== '.' && s !== '..');
const identityArb = fc.record({
  trustDomain: trustDomainArb,
  namespace: segmentArb,
  serviceAccount: segmentArb,
});

describe('parseIdentity', () => {
  it.each([
    [
      'spiffe://cluster.local/ns/default/sa/bookinfo-productpage',
      'cluster.local',
      'default',
      'bookinfo-productpage',
    ],
    ['spiffe://td/ns/a/sa/b', 'td', 'a', 'b'],
    ['spiffe://my_td.example-1/ns/Kube.System/sa/x_y', 'my_td.example-1', 'Kube.System', 'x_y'],
  ])('accepts %s', (uri, trustDomain, namespace, serviceAccount) => {
    expect(parseIdentity(uri)).toEqual({ trustDomain, namespace, serviceAccount });
  });

  it.each([
    ['four path segments', 'spiffe://td/ns/a/sa'],
    ['six path segments', 'spiffe://td/ns/a/sa/b/c'],
    ['a trailing slash', 'spiffe://td/ns/a/sa/b/'],
    ['no path', 'spiffe://td'],
    ['a long keyword', 'spiffe://td/namespace/a/sa/b'],
    ['a wrong second keyword', 'spiffe://td/ns/a/serviceaccount/b'],
    ['swapped keywords', 'spiffe://td/sa/a/ns/b'],
    ['upper-case keywords', 'spiffe://td/NS/a/SA/b'],
    ['an empty trust domain', 'spiffe:///ns/a/sa/b'],
    ['an empty namespace', 'spiffe://td/ns//sa/b'],
    ['an empty service account', 'spiffe://td/ns/a/sa/'],
    ['another scheme', 'https://td/ns/a/sa/b'],
    ['an upper-case scheme', 'SPIFFE://td/ns/a/sa/b'],
    ['no scheme', 'td/ns/a/sa/b'],
    ['leading space', ' spiffe://td/ns/a/sa/b'],
    ['a trailing newline', 'spiffe://td/ns/a/sa/b\n'],
    ['an upper-case trust domain', 'spiffe://TD/ns/a/sa/b'],
    ['a port', 'spiffe://td:443/ns/a/sa/b'],
    ['user info', 'spiffe://u@td/ns/a/sa/b'],
    ['percent-encoding', 'spiffe://td/ns/a%2Fb/sa/c'],
    ['a dot segment', 'spiffe://td/ns/../sa/b'],
    ['a query', 'spiffe://td/ns/a/sa/b?x=1'],
    ['a fragment', 'spiffe://td/ns/a/sa/b#x'],
    ['the empty string', ''],
  ])('rejects %s', (_what, uri) => {
    expect(parseIdentity(uri)).toBeUndefined();
  });

  it('round-trips every formatted identity', () => {
    fc.assert(
      fc.property(identityArb, (identity) => {
        expect(parseIdentity(formatIdentity(identity))).toEqual(identity);
      }),
    );
  });

  it('never throws on arbitrary input, and what it accepts formats back to the input', () => {
    const anyText = fc.oneof(
      fc.string(),
      fc.string({ unit: 'grapheme' }),
      fc.string({ unit: 'binary' }),
      // Near misses: mutate a valid id.
      identityArb.chain((identity) =>
        fc.tuple(fc.nat(), fc.string({ maxLength: 3 })).map(([at, insert]) => {
          const uri = formatIdentity(identity);
          const i = at % (uri.length + 1);
          return uri.slice(0, i) + insert + uri.slice(i);
        }),
      ),
    );
    fc.assert(
      fc.property(anyText, (text) => {
        const identity = parseIdentity(text);
        if (identity !== undefined) expect(formatIdentity(identity)).toBe(text);
      }),
    );
  });

  it('rejects any segment count other than five', () => {
    const count = fc.integer({ min: 0, max: 9 }).filter((n) => n !== 5);
    fc.assert(
      fc.property(count, fc.array(segmentArb, { minLength: 9, maxLength: 9 }), (n, parts) => {
        const segments = parts.slice(0, n);
        // Keep the keywords where they belong so only the count is wrong.
        if (n > 1) segments[1] = 'ns';
        if (n > 3) segments[3] = 'sa';
        expect(parseIdentity(`spiffe://${segments.join('/')}`)).toBeUndefined();
      }),
    );
  });

  it('rejects any keyword other than ns and sa', () => {
    fc.assert(
      fc.property(identityArb, segmentArb, fc.boolean(), (identity, keyword, first) => {
        fc.pre(keyword !== (first ? 'ns' : 'sa'));
        const uri = first
          ? `spiffe://${identity.trustDomain}/${keyword}/${identity.namespace}/sa/${identity.serviceAccount}`
          : `spiffe://${identity.trustDomain}/ns/${identity.namespace}/${keyword}/${identity.serviceAccount}`;
        expect(parseIdentity(uri)).toBeUndefined();
      }),
    );
  });

  it('rejects other schemes', () => {
    fc.assert(
      fc.property(identityArb, fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9+.-]{0,10}$/), (identity, scheme) => {
        fc.pre(scheme !== 'spiffe');
        const uri = formatIdentity(identity).replace(/^spiffe/, scheme);
        expect(parseIdentity(uri)).toBeUndefined();
      }),
    );
  });
});

describe('firstIdentity', () => {
  it('skips URIs that are not workload ids', () => {
    expect(
      firstIdentity([
        'https://example.com',
        'spiffe://td/ns/a',
        'spiffe://td/ns/a/sa/b',
        'spiffe://td/ns/c/sa/d',
      ]),
    ).toEqual({ trustDomain: 'td', namespace: 'a', serviceAccount: 'b' });
    expect(firstIdentity([])).toBeUndefined();
    expect(firstIdentity(['spiffe://td/ns/a'])).toBeUndefined();
  });
});

/** Node's rule (src/crypto/crypto_common.cc): JSON-quote a value holding `,`, quotes, `\` or control characters. */
function nodeAltNameValue(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || ',"\'\\'.includes(value.charAt(i))) return JSON.stringify(value);
  }
  return value;
}

describe('urisFromSubjectAltName', () => {
  it.each([
    ['', []],
    ['URI:spiffe://td/ns/a/sa/b', ['spiffe://td/ns/a/sa/b']],
    ['DNS:example.com', []],
    ['DNS:a.example, URI:spiffe://td/ns/a/sa/b, IP Address:127.0.0.1', ['spiffe://td/ns/a/sa/b']],
    [
      'URI:spiffe://td/ns/a/sa/b, URI:spiffe://td/ns/c/sa/d',
      ['spiffe://td/ns/a/sa/b', 'spiffe://td/ns/c/sa/d'],
    ],
    // What Node printed for a certificate with these SANs (see pki.test.ts for the live check).
    [
      'URI:spiffe://cluster.local/ns/ns1/sa/sa1, URI:"spiffe://td/ns/a\\u002cb/sa/\\"q\\"", DNS:x.y',
      ['spiffe://cluster.local/ns/ns1/sa/sa1', 'spiffe://td/ns/a,b/sa/"q"'],
    ],
    // A comma inside a quoted value cannot forge a second entry.
    ['URI:"spiffe://x, URI:spiffe://td/ns/a/sa/b"', ['spiffe://x, URI:spiffe://td/ns/a/sa/b']],
    ['DNS:"a, URI:spiffe://td/ns/a/sa/b"', []],
    ['email:"a\\"b@c", URI:http://x', ['http://x']],
    ['URI:', ['']],
    // Malformed (Node never writes these): stop rather than guess.
    ['URI:"unterminated, URI:spiffe://td/ns/a/sa/b', []],
    ['URI:"a"b, URI:spiffe://td/ns/a/sa/b', []],
    ['URI:"\\x", URI:spiffe://td/ns/a/sa/b', []],
    ['no colon here', []],
    ['URI:a,URI:b', ['a,URI:b']],
  ])('%s', (subjectaltname, uris) => {
    expect(urisFromSubjectAltName(subjectaltname)).toEqual(uris);
  });

  it('recovers exactly the URI values of any SAN list Node could print', () => {
    const entry = fc.record({
      type: fc.constantFrom('URI', 'DNS', 'IP Address', 'email', 'DirName'),
      value: fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom(', URI:x', '"', ', ')),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), (entries) => {
        const text = entries.map(({ type, value }) => `${type}:${nodeAltNameValue(value)}`).join(', ');
        const expected = entries.filter((e) => e.type === 'URI').map((e) => e.value);
        expect(urisFromSubjectAltName(text)).toEqual(expected);
      }),
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (text) => {
        expect(Array.isArray(urisFromSubjectAltName(text))).toBe(true);
      }),
    );
  });
});
