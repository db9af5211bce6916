import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBenchPki } from './bench-pki.js';
import { forgetTempDir, trackTempDir } from './cleanup.js';
import { ensureDebianPackages, packageVersion } from './debian-packages.js';
import { controlGroup } from './control-group.js';
import { httpGroup } from './http-group.js';
import { l4Group } from './l4-group.js';
import { parseOptions, USAGE, type Settings } from './options.js';
import { pinCores, type CorePlan } from './pinning.js';
import { readProfiles, renderSummary, summarizeProfiles } from './profile-summary.js';
import { evaluateTargets, renderRuns, renderTable, renderTargets, type Row } from './report.js';
import { replaceLatestResults } from './results-file.js';
import { commandLine, describeMachine, machine, sourceRevision, type Machine } from './run-info.js';
import type { BenchContext, BenchGroup } from './suite.js';

/*
 * `npm run bench` (full) and `npm run bench:quick`: every group, each path taking turns, medians of
 * the runs, one table per group with ours ÷ direct and ours ÷ the best peer, the issue's targets,
 * and the record (JSON and Markdown in bench/out/; with --write-results, bench/RESULTS.md).
 * bench/README.md explains every row.
 */

/** Every group that runs; a new one (control plane, policy, L7) is one more entry. */
const GROUPS: readonly BenchGroup[] = [l4Group, httpGroup, controlGroup];
const PROFILE_SUMMARY_TOP = 20;

const repoDir = fileURLToPath(new URL('../..', import.meta.url));
const benchDir = join(repoDir, 'bench');
const outDir = join(benchDir, 'out');

interface RunRecord {
  readonly command: string;
  readonly date: string;
  readonly machine: Machine;
  readonly code: string;
  readonly pinning: string;
  readonly packages: Readonly<Record<string, string>>;
  readonly settings: Settings;
}

function progress(line: string): void {
  process.stdout.write(`${line}\n`);
}

function selectGroups(names: readonly string[] | undefined): BenchGroup[] {
  if (names === undefined) return [...GROUPS];
  return names.map((name) => {
    const group = GROUPS.find((g) => g.name === name);
    if (group === undefined) {
      throw new Error(`unknown group "${name}"; groups: ${GROUPS.map((g) => g.name).join(', ')}`);
    }
    return group;
  });
}

async function runGroups(
  settings: Settings,
  groups: readonly BenchGroup[],
  cores: CorePlan,
  profiles: { label: string; path: string }[],
): Promise<Row[]> {
  const logDir = join(outDir, 'logs');
  const cpuProfileDir = settings.cpuProf ? join(outDir, 'profiles') : undefined;
  await mkdir(logDir, { recursive: true });
  if (cpuProfileDir !== undefined) await mkdir(cpuProfileDir, { recursive: true });
  const workDir = await mkdtemp(join(tmpdir(), 'ambient-bench-'));
  trackTempDir(workDir);
  try {
    const context: BenchContext = {
      settings,
      cores,
      pki: await writeBenchPki(workDir),
      workDir,
      logDir,
      cpuProfileDir,
      progress,
      addProfile: (label, path) => profiles.push({ label, path }),
    };
    const rows: Row[] = [];
    for (const group of groups) {
      progress(`\n${group.title}`);
      rows.push(...(await group.run(context)));
    }
    return rows;
  } finally {
    await rm(workDir, { recursive: true, force: true });
    forgetTempDir(workDir);
  }
}

function renderReport(record: RunRecord, rows: readonly Row[], heading: string): string {
  const groups = [...new Set(rows.map((row) => row.group))];
  const { settings } = record;
  const lines = [
    `- command: \`${record.command}\``,
    `- date: ${record.date}`,
    `- machine: ${describeMachine(record.machine)}`,
    `- code: ${record.code}`,
    `- pinning: ${record.pinning}`,
    `- peers and tools (Debian): ${Object.entries(record.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}`,
    `- each measurement: bulk ${String(settings.bulkBytes / (1024 * 1024))} MiB (at most ${String(settings.bulkTimeLimitMs / 1000)} s); ` +
      `request/response ${String(settings.requestResponseWarmupMs)} ms warm-up + ${String(settings.requestResponseMs)} ms; ` +
      `new connections ${String(settings.newConnectionsMs)} ms; wrk ${String(settings.httpSeconds)} s; ` +
      `median of ${String(settings.runs)} run${settings.runs === 1 ? '' : 's'}, paths taking turns`,
    '',
  ];
  for (const group of groups) {
    lines.push(`${heading} ${group}`, '', renderTable(rows.filter((row) => row.group === group)), '');
  }
  const targets = evaluateTargets(rows);
  if (targets.length > 0) lines.push(`${heading} Targets`, '', renderTargets(targets), '');
  for (const group of groups) {
    lines.push(
      `${heading} Every run: ${group}`,
      '',
      renderRuns(rows.filter((row) => row.group === group)),
      '',
    );
  }
  return lines.join('\n');
}

async function main(settings: Settings): Promise<void> {
  const startedAt = new Date();
  const groups = selectGroups(settings.groups);
  // Before pinning: afterwards this process sees only its own core.
  const host = machine();
  const cores = pinCores();
  progress(`bench${settings.quick ? ' (quick)' : ''}: ${describeMachine(host)}; ${cores.description}`);
  await mkdir(join(outDir, 'logs'), { recursive: true });
  const packages = [...new Set(groups.flatMap((group) => group.debianPackages))];
  await ensureDebianPackages(packages, join(outDir, 'logs', 'apt.log'), progress);

  const profiles: { label: string; path: string }[] = [];
  const rows = await runGroups(settings, groups, cores, profiles);

  const record: RunRecord = {
    command: commandLine(),
    date: startedAt.toISOString(),
    machine: host,
    code: sourceRevision(repoDir),
    pinning: cores.description,
    packages: Object.fromEntries(packages.map((name) => [name, packageVersion(name)])),
    settings,
  };
  const report = renderReport(record, rows, '##');
  process.stdout.write(`\n${report}`);
  const base = join(outDir, `bench-${record.date.replace(/[:.]/g, '-')}`);
  await writeFile(`${base}.md`, `# Bench, ${record.date}\n\n${report}`);
  await writeFile(`${base}.json`, `${JSON.stringify({ ...record, rows }, null, 2)}\n`);
  progress(`\nwritten: ${relative(process.cwd(), base)}.md and .json`);

  if (settings.writeResults) {
    const resultsPath = join(benchDir, 'RESULTS.md');
    const section = `### Latest full run, ${record.date.slice(0, 10)}\n\n${renderReport(record, rows, '####')}`;
    await writeFile(resultsPath, replaceLatestResults(await readFile(resultsPath, 'utf8'), section));
    progress(`updated: ${relative(process.cwd(), resultsPath)}`);
  }

  if (profiles.length > 0) {
    progress(
      '\nCPU profiles of our processes (Chrome DevTools → Performance → Load profile, or speedscope):',
    );
    for (const { label, path } of profiles) progress(`  ${label}: ${relative(process.cwd(), path)}`);
    progress(`\nAll of them together (node bench/dist/profile-summary.js <files> for any subset):\n`);
    progress(
      renderSummary(summarizeProfiles(await readProfiles(profiles.map((p) => p.path))), PROFILE_SUMMARY_TOP),
    );
    progress('\nNote: the numbers of a --cpu-prof run include the profiler overhead; do not record them.');
  }
}

try {
  const settings = parseOptions(process.argv.slice(2));
  if (settings === undefined) process.stdout.write(`${USAGE}\n`);
  else await main(settings);
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  // exit, not exitCode: cleanup.ts's exit hook then runs even if a handle still holds the loop open.
  process.exit(1);
}
