import { describe, expect, it } from 'vitest';
import { parseOptions } from './options.js';
import { argumentsAfterScript } from './run-info.js';

describe('parseOptions', () => {
  it('runs three times by default and once with --quick, with shorter measurements', () => {
    const full = parseOptions([]);
    const quick = parseOptions(['--quick']);
    expect(full?.runs).toBe(3);
    expect(quick?.runs).toBe(1);
    expect(quick?.httpSeconds).toBeLessThan(full?.httpSeconds ?? 0);
    expect(parseOptions(['--quick', '--runs', '2'])?.runs).toBe(2);
  });

  it('keeps the named groups and returns undefined for --help', () => {
    expect(parseOptions(['--group', 'l4', '--group', 'http'])?.groups).toEqual(['l4', 'http']);
    expect(parseOptions(['--help'])).toBeUndefined();
  });

  it('refuses a bad run count and recording a quick run as the results', () => {
    expect(() => parseOptions(['--runs', '0'])).toThrow(/--runs/);
    expect(() => parseOptions(['--quick', '--write-results'])).toThrow(/full runs only/);
  });
});

describe('argumentsAfterScript', () => {
  it("drops the arguments the npm script line gives itself and keeps the user's", () => {
    const line = 'tsc -b && node bench/dist/main.js --quick';
    expect(argumentsAfterScript(['--quick', '--cpu-prof'], line)).toEqual(['--cpu-prof']);
    expect(argumentsAfterScript(['--runs', '5'], 'tsc -b && node bench/dist/main.js')).toEqual([
      '--runs',
      '5',
    ]);
  });
});
