import { describe, expect, it } from 'vitest';
import { replaceLatestResults, RESULTS_BEGIN, RESULTS_END } from './results-file.js';

describe('replaceLatestResults', () => {
  it('replaces only what lies between the markers', () => {
    const file = `# Results\n\nnotes\n\n${RESULTS_BEGIN}\n\nold table\n\n${RESULTS_END}\n\n## CA\n`;
    expect(replaceLatestResults(file, 'new table\n')).toBe(
      `# Results\n\nnotes\n\n${RESULTS_BEGIN}\n\nnew table\n\n${RESULTS_END}\n\n## CA\n`,
    );
  });

  it('refuses a file without the markers rather than guessing where results go', () => {
    expect(() => replaceLatestResults('# Results\n', 'x')).toThrow(/section to replace/);
  });
});
