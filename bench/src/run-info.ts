import { execFileSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { relative } from 'node:path';

/*
 * What to write beside a result so that it can be compared later: how it was started, on what,
 * and which code it measured.
 */

export function commandLine(): string {
  const argv = process.argv.slice(2);
  const script = process.env.npm_lifecycle_event;
  if (script === undefined) {
    return [`node ${relative(process.cwd(), process.argv[1] ?? '')}`, ...argv].join(' ');
  }
  const extra = argumentsAfterScript(argv, process.env.npm_lifecycle_script ?? '');
  return `npm run ${script}${extra.length > 0 ? ` -- ${extra.join(' ')}` : ''}`;
}

/**
 * What the user added after `npm run <script> --`: npm appends it to the script's own command, so
 * the arguments the script line already gives (`--quick` of bench:quick) are dropped.
 */
export function argumentsAfterScript(argv: readonly string[], scriptLine: string): string[] {
  const own = /\.js\b(.*)$/.exec(scriptLine)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
  const matches = own.every((arg, i) => argv[i] === arg);
  return matches ? argv.slice(own.length) : [...argv];
}

export interface Machine {
  /** Online CPUs (what `nproc` says before any pinning). */
  readonly cores: number;
  readonly cpu: string;
  /** `uname -r`. */
  readonly kernel: string;
  readonly node: string;
}

export function machine(): Machine {
  const all = cpus();
  return { cores: all.length, cpu: all[0]?.model ?? 'unknown CPU', kernel: release(), node: process.version };
}

export function describeMachine(m: Machine): string {
  return `nproc ${String(m.cores)} (${m.cpu}), kernel ${m.kernel}, Node ${m.node}`;
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
