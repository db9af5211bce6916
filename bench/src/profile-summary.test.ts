import { describe, expect, it } from 'vitest';
import { summarizeProfiles, type CpuProfile } from './profile-summary.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

describe('summarizeProfiles', () => {
  it('sums self time by function and by file, each sample lasting until the next, idle apart', () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)') },
        { id: 2, callFrame: frame('(idle)') },
        { id: 3, callFrame: frame('pump', 'file:///work/main/packages/hbone/dist/pump.js', 9) },
        { id: 4, callFrame: frame('', 'file:///work/main/packages/hbone/dist/pump.js', 40) },
        { id: 5, callFrame: frame('(garbage collector)') },
      ],
      samples: [3, 3, 4, 2, 5, 3],
      // µs before each sample: sample i lasts timeDeltas[i + 1].
      timeDeltas: [0, 1000, 2000, 4000, 3000, 5000],
    };
    const summary = summarizeProfiles([profile, profile]);
    expect(summary.idleMs).toBe(6);
    expect(summary.busyMs).toBe(2 * (1 + 2 + 4 + 5));
    expect(summary.byFunction).toEqual([
      { name: '(garbage collector)', selfMs: 10 },
      { name: '(anonymous) packages/hbone/dist/pump.js:41', selfMs: 8 },
      { name: 'pump packages/hbone/dist/pump.js:10', selfMs: 6 },
    ]);
    expect(summary.byFile).toEqual([
      { name: 'packages/hbone/dist/pump.js', selfMs: 14 },
      { name: '(garbage collector)', selfMs: 10 },
    ]);
  });
});

describe('mostlyFrom', () => {
  it("names the nearest caller in our code or a dependency, skipping Node's internals", () => {
    const pump = 'file:///work/main/packages/hbone/dist/pump.js';
    const logger = 'file:///work/main/node_modules/sonic-boom/index.js';
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 5] },
        { id: 2, callFrame: frame('onData', pump, 41), children: [3] },
        { id: 3, callFrame: frame('writeGeneric', 'node:internal/stream_base_commons', 100), children: [4] },
        { id: 4, callFrame: frame('writeBuffer') },
        { id: 5, callFrame: frame('actualWrite', logger, 635), children: [6] },
        { id: 6, callFrame: frame('writeBuffer') },
      ],
      samples: [4, 4, 4, 6, 1],
      timeDeltas: [0, 1000, 1000, 1000, 1000],
    };
    const [writeBuffer] = summarizeProfiles([profile]).byFunction;
    expect(writeBuffer).toEqual({
      name: 'writeBuffer',
      selfMs: 4,
      mostlyFrom: { name: 'onData packages/hbone/dist/pump.js:42', share: 0.75 },
    });
  });
});
