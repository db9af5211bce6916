import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { relative } from 'node:path';

/*
 * What to write beside a result so that it can be compared later: how it was started, on what,
 * and which code it measured.
 */

export function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  const script = process.env.npm_lifecycle_event;
  if (script !== undefined) return `npm run ${script}${args ? ` -- ${args}` : ''}`;
  return `node ${relative(process.cwd(), process.argv[1] ?? '')}${args ? ` ${args}` : ''}`;
}

export function machine(): string {
  return `nproc ${String(availableParallelism())} (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`;
}

/** The commit, "+ uncommitted changes" when the work tree differs: results only compare at equal code. */
export function sourceRevision(repoDir: string): string {
  // --no-optional-locks: only read; never refresh the index under someone else's git command.
  const git = (...args: string[]): string =>
    execFileSync('git', ['--no-optional-locks', ...args], { cwd: repoDir, encoding: 'utf8' }).trim();
  try {
    const changed = git('status', '--porcelain', '--untracked-files=no') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${changed ? ' + uncommitted changes' : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}
