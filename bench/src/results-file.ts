/*
 * bench/RESULTS.md keeps the latest full run between two markers; `--write-results` replaces what
 * lies between them and leaves every word outside (the notes written by hand) alone.
 */

export const RESULTS_BEGIN = '<!-- bench:latest:begin -->';
export const RESULTS_END = '<!-- bench:latest:end -->';

export function replaceLatestResults(file: string, markdown: string): string {
  const begin = file.indexOf(RESULTS_BEGIN);
  const end = file.indexOf(RESULTS_END);
  if (begin < 0 || end < begin) {
    throw new Error(`RESULTS.md has no ${RESULTS_BEGIN} … ${RESULTS_END} section to replace`);
  }
  return `${file.slice(0, begin + RESULTS_BEGIN.length)}\n\n${markdown.trim()}\n\n${file.slice(end)}`;
}
