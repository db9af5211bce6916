import { describe, expect, it } from 'vitest';
import { EnvReader, parseDurationMs } from './config.js';
import { Backoff } from './backoff.js';

describe('EnvReader', () => {
  it('reads typed values with defaults for unset and empty variables', () => {
    const read = new EnvReader({ N: '7', B: 'true', D: '250ms', E: '' });
    expect(read.int('N', 1)).toBe(7);
    expect(read.int('E', 3)).toBe(3);
    expect(read.bool('B', false)).toBe(true);
    expect(read.durationMs('D', 0)).toBe(250);
    expect(read.string('MISSING', 'x')).toBe('x');
    read.finish();
  });

  it('reports every problem at once, naming each variable', () => {
    const read = new EnvReader({ PORT: '99999', FLAG: 'maybe', WAIT: 'soon', MODE: 'weird' });
    read.int('PORT', 1, 0, 65535);
    read.bool('FLAG', false);
    read.durationMs('WAIT', 1);
    read.oneOf('MODE', ['a', 'b'], 'a');
    expect(() => {
      read.finish();
    }).toThrow(/4 problems[\s\S]*PORT[\s\S]*FLAG[\s\S]*WAIT[\s\S]*MODE/);
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['10', 10_000],
    ['1.5s', 1_500],
    ['500ms', 500],
    ['5m', 300_000],
    ['1h', 3_600_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', 's', '-1s', '1d', '1 s s'])('rejects %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe('Backoff', () => {
  it('doubles up to the cap and starts over after reset', () => {
    const backoff = new Backoff(10, 50, 0);
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([10, 20, 40, 50]);
    backoff.reset();
    expect(backoff.next()).toBe(10);
  });

  it('jitters within the configured fraction', () => {
    expect(new Backoff(100, 1000, 0.2, () => 0).next()).toBe(80);
    expect(new Backoff(100, 1000, 0.2, () => 1).next()).toBe(120);
  });
});
