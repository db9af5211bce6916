import { format } from 'prettier';
import { describe, expect, it } from 'vitest';
import { markdownTable } from './markdown-table.js';

describe('markdownTable', () => {
  const table = markdownTable(
    ['metric', 'ztunnel', 'ratio'],
    ['left', 'right', 'right'],
    [
      ['bulk throughput, 1 stream (Gbit/s)', '2.15', '0.22×'],
      ['p50 (µs)', '101', '—'],
    ],
  );

  it('pads every column to its widest cell, right-aligned columns on the left', () => {
    expect(table.split('\n')).toEqual([
      '| metric                             | ztunnel | ratio |',
      '| ---------------------------------- | ------: | ----: |',
      '| bulk throughput, 1 stream (Gbit/s) |    2.15 | 0.22× |',
      '| p50 (µs)                           |     101 |     — |',
    ]);
  });

  it('is already what Prettier would write, so RESULTS.md passes prettier --check', async () => {
    const markdown = `${table}\n`;
    expect(await format(markdown, { parser: 'markdown' })).toBe(markdown);
  });
});
