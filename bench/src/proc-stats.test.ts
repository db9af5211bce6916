import { describe, expect, it } from 'vitest';
import { cpuSeconds, cpuSecondsDuring, parseCpuTicks, parseRssBytes, rssMiB } from './proc-stats.js';

describe('parseRssBytes', () => {
  it('reads VmRSS in kB', () => {
    expect(parseRssBytes('Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   51200 kB\nVmData:\t 1 kB\n')).toBe(
      51200 * 1024,
    );
  });

  it('throws when the line is missing (a zombie has none)', () => {
    expect(() => parseRssBytes('Name:\tnode\nState:\tZ (zombie)\n')).toThrow(/VmRSS/);
  });
});

describe('parseCpuTicks', () => {
  it('adds utime and stime, counting fields after the last parenthesis of the name', () => {
    // Fields 14 and 15 are 700 and 42; the name holds a space and a parenthesis of its own.
    const stat = '1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 700 42 0 0 20 0 11 0 5 100 200';
    expect(parseCpuTicks(stat)).toBe(742);
  });
});

describe('reading /proc for a live process', () => {
  it('sees this process use memory and CPU', async () => {
    expect(rssMiB(process.pid)).toBeGreaterThan(1);
    const {
      cpuSeconds: [spent],
    } = await cpuSecondsDuring([process.pid], () => {
      // Busy for a while: the kernel counts CPU in clock ticks (10 ms).
      const until = Date.now() + 100;
      let n = 0;
      while (Date.now() < until) n++;
      return Promise.resolve(n);
    });
    expect(spent).toBeGreaterThan(0);
    expect(cpuSeconds(process.pid)).toBeGreaterThan(0);
  });
});
