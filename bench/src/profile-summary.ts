import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { markdownTable } from './markdown-table.js';

/*
 * Where a process spent its CPU, from V8 .cpuprofile files (what --cpu-prof writes): self time
 * summed by function, and by file, over every profile given. Self time is what a function ran
 * itself, not what it called: the hot path's real costs, without a flame graph.
 *
 *   node bench/dist/profile-summary.js [--top N] <file.cpuprofile>...
 */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface Cost {
  readonly name: string;
  readonly selfMs: number;
  /**
   * The nearest caller in JavaScript outside Node's own internals (our packages or a dependency)
   * that accounts for most of this self time, with its share: which code pays for a native cost.
   */
  readonly mostlyFrom?: { readonly name: string; readonly share: number };
}

export interface ProfileSummary {
  /** Sampled time that was not idle: what the percentages are of. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly byFunction: Cost[];
  readonly byFile: Cost[];
}

/** V8's pseudo-frames: time spent outside JavaScript functions. */
const IDLE = '(idle)';

function shortUrl(url: string): string {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '');
  const packages = /\/(packages\/[^/]+|daemonset|bench|node_modules\/(?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
  return packages === null ? path : `${packages[1] ?? ''}/${packages[2] ?? ''}`;
}

function functionKey(frame: CallFrame): string {
  const where = shortUrl(frame.url);
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  return where === '' ? name : `${name} ${where}:${String(frame.lineNumber + 1)}`;
}

function fileKey(frame: CallFrame): string {
  return shortUrl(frame.url) || (frame.functionName === '' ? '(native)' : frame.functionName);
}

/** Code that is neither native nor Node's own: where a cost can be changed. */
function isUserCode(frame: CallFrame): boolean {
  return frame.url !== '' && !frame.url.startsWith('node:');
}

/** Each node's nearest ancestor (itself excluded) in user code, as a function key. */
function userCallers(nodes: readonly ProfileNode[]): Map<number, string> {
  const parents = new Map<number, ProfileNode>();
  for (const node of nodes) for (const child of node.children ?? []) parents.set(child, node);
  const callers = new Map<number, string>();
  for (const node of nodes) {
    // Bounded by the tree's depth; the count guards against a malformed (cyclic) profile.
    let parent = parents.get(node.id);
    for (let hops = 0; parent !== undefined && hops < nodes.length; hops++) {
      if (isUserCode(parent.callFrame)) {
        callers.set(node.id, functionKey(parent.callFrame));
        break;
      }
      parent = parents.get(parent.id);
    }
  }
  return callers;
}

/** Sums self time over the profiles; each sample lasts until the next one. */
export function summarizeProfiles(profiles: readonly CpuProfile[]): ProfileSummary {
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const callersOf = new Map<string, Map<string, number>>();
  let busyMs = 0;
  let idleMs = 0;
  for (const profile of profiles) {
    const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
    const callers = userCallers(profile.nodes);
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    for (let i = 0; i < samples.length; i++) {
      const id = samples[i] ?? -1;
      const frame = frames.get(id);
      if (frame === undefined) continue;
      const ms = (deltas[i + 1] ?? 0) / 1000;
      if (frame.functionName === IDLE) {
        idleMs += ms;
        continue;
      }
      busyMs += ms;
      const fn = functionKey(frame);
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
      const caller = callers.get(id);
      if (caller !== undefined) {
        const counts = callersOf.get(fn) ?? new Map<string, number>();
        counts.set(caller, (counts.get(caller) ?? 0) + ms);
        callersOf.set(fn, counts);
      }
      const file = fileKey(frame);
      byFile.set(file, (byFile.get(file) ?? 0) + ms);
    }
  }
  const sorted = (costs: Map<string, number>): Cost[] =>
    [...costs].map(([name, selfMs]) => ({ name, selfMs })).sort((a, b) => b.selfMs - a.selfMs);
  const withCallers = sorted(byFunction).map((cost): Cost => {
    const top = [...(callersOf.get(cost.name) ?? [])].sort((a, b) => b[1] - a[1])[0];
    return top === undefined || cost.selfMs === 0
      ? cost
      : { ...cost, mostlyFrom: { name: top[0], share: top[1] / cost.selfMs } };
  });
  return { busyMs, idleMs, byFunction: withCallers, byFile: sorted(byFile) };
}

export function renderSummary(summary: ProfileSummary, top: number): string {
  const percent = (share: number): string => `${(100 * share).toFixed(1)}%`;
  const table = (title: string, costs: readonly Cost[], callers: boolean): string =>
    markdownTable(
      [title, 'self ms', '% of busy', ...(callers ? ['mostly from (share)'] : [])],
      ['left', 'right', 'right', 'left'],
      costs
        .slice(0, top)
        .map(({ name, selfMs, mostlyFrom }) => [
          name.replaceAll('|', '/'),
          selfMs.toFixed(0),
          percent(selfMs / (summary.busyMs || 1)),
          ...(callers
            ? [
                mostlyFrom === undefined
                  ? ''
                  : `${mostlyFrom.name.replaceAll('|', '/')} (${percent(mostlyFrom.share)})`,
              ]
            : []),
        ]),
    );
  return [
    `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`,
    '',
    table(`top ${String(top)} functions by self time`, summary.byFunction, true),
    '',
    table(`top ${String(top)} files by self time`, summary.byFile, false),
  ].join('\n');
}

export async function readProfiles(paths: readonly string[]): Promise<CpuProfile[]> {
  return Promise.all(paths.map(async (path) => JSON.parse(await readFile(path, 'utf8')) as CpuProfile));
}

async function main(argv: readonly string[]): Promise<void> {
  let top = 20;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--top') top = Number(argv[++i]);
    else files.push(arg);
  }
  if (files.length === 0 || !Number.isInteger(top) || top < 1) {
    process.stderr.write('usage: node bench/dist/profile-summary.js [--top N] <file.cpuprofile>...\n');
    process.exitCode = 2;
    return;
  }
  process.stdout.write(`${renderSummary(summarizeProfiles(await readProfiles(files)), top)}\n`);
}

// Run as a script, not when imported by the bench.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
