import { describe, expect, it } from 'vitest';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, metricType } from './type-urls.js';
import { resourceVersion } from './versions.js';

describe('resourceVersion', () => {
  it('is a short hash: equal bytes give equal versions, different bytes different ones', () => {
    const version = resourceVersion(Buffer.from('{"a":1}'));
    expect(version).toMatch(/^[0-9a-f]{16}$/);
    expect(resourceVersion(new Uint8Array(Buffer.from('{"a":1}')))).toBe(version);
    expect(resourceVersion(Buffer.from('{"a":2}'))).not.toBe(version);
  });

  it('hashes only the view it is given, not the whole underlying buffer', () => {
    const whole = Buffer.from('xx{"a":1}yy');
    expect(resourceVersion(whole.subarray(2, 9))).toBe(resourceVersion(Buffer.from('{"a":1}')));
  });
});

describe('metricType', () => {
  it.each([
    [ADDRESS_TYPE_URL, 'wds'],
    [AUTHORIZATION_TYPE_URL, 'wads'],
    ['type.googleapis.com/example.Other', 'type.googleapis.com/example.Other'],
  ])('%s is counted as %s, as istiod labels it', (typeUrl, expected) => {
    expect(metricType(typeUrl)).toBe(expected);
  });
});
