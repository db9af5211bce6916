import { markdownTable, type Align } from './markdown-table.js';
import { DIRECT, OURS, PATH_NAMES, PEERS, type PathName } from './paths.js';
import { median } from './stats.js';

/*
 * Rows, ratios and targets. A row is one metric with every path's value in every run; the tables
 * show medians, ours ÷ direct and ours ÷ the best peer (the better of stunnel and HAProxy on that
 * very row, from the same run), and each peer's own figure beside it.
 */

export type Better = 'higher' | 'lower';

/** A goal from the issue: ours against a path (a ratio of medians), or ours alone (an absolute bound). */
export interface Target {
  readonly description: string;
  /** A published figure to compare with, not a goal of this project: reported as within or above. */
  readonly reference?: boolean;
  readonly against?: PathName;
  readonly atLeast?: number;
  readonly atMost?: number;
}

export interface MetricSpec {
  readonly label: string;
  readonly unit: string;
  readonly better: Better;
  /** Decimal places of the values; ratios always have two. */
  readonly digits: number;
  readonly targets?: readonly Target[];
}

export interface Row extends MetricSpec {
  readonly group: string;
  /** Every run's value, in order, for each path that has this metric. */
  readonly runs: Partial<Record<PathName, number[]>>;
}

/** Collects a group's rows in the order they were defined. */
export class RowSet {
  private readonly rows = new Map<string, Row>();

  constructor(private readonly group: string) {}

  define(spec: MetricSpec): string {
    if (!this.rows.has(spec.label)) this.rows.set(spec.label, { ...spec, group: this.group, runs: {} });
    return spec.label;
  }

  add(label: string, path: PathName, value: number): void {
    const row = this.rows.get(label);
    if (row === undefined) throw new Error(`bench bug: no metric "${label}"`);
    (row.runs[path] ??= []).push(value);
  }

  all(): Row[] {
    return [...this.rows.values()];
  }
}

export interface RowSummary {
  readonly medians: Partial<Record<PathName, number>>;
  readonly bestPeer: PathName | undefined;
  readonly oursOverDirect: number | undefined;
  readonly oursOverBestPeer: number | undefined;
}

export function summarizeRow(row: Row): RowSummary {
  const medians: Partial<Record<PathName, number>> = {};
  for (const path of PATH_NAMES) {
    const runs = row.runs[path];
    if (runs !== undefined && runs.length > 0) medians[path] = median(runs);
  }
  let bestPeer: PathName | undefined;
  for (const peer of PEERS) {
    const value = medians[peer];
    if (value === undefined) continue;
    const best = bestPeer === undefined ? undefined : medians[bestPeer];
    if (best === undefined || (row.better === 'higher' ? value > best : value < best)) bestPeer = peer;
  }
  const ours = medians[OURS];
  const ratio = (other: number | undefined): number | undefined =>
    ours === undefined || other === undefined || other === 0 ? undefined : ours / other;
  return {
    medians,
    bestPeer,
    oursOverDirect: ratio(medians[DIRECT]),
    oursOverBestPeer: ratio(bestPeer === undefined ? undefined : medians[bestPeer]),
  };
}

const NONE = '—';

function formatRatio(ratio: number | undefined): string {
  return ratio === undefined ? NONE : `${ratio.toFixed(2)}×`;
}

function metricText(row: Row): string {
  return `${row.label} (${row.unit})`;
}

/** The paths that have a value in at least one of the rows: a group without peers shows no peer columns. */
function pathsIn(rows: readonly Row[]): PathName[] {
  return PATH_NAMES.filter((path) => rows.some((row) => (row.runs[path]?.length ?? 0) > 0));
}

/** The main table: medians, each path in its own column, and the two ratios. */
export function renderTable(rows: readonly Row[]): string {
  const paths = pathsIn(rows);
  const withDirect = paths.includes(DIRECT);
  const withPeers = paths.some((path) => PEERS.includes(path));
  const header = [
    'metric',
    'better',
    ...paths,
    ...(withDirect ? [`${OURS} ÷ ${DIRECT}`] : []),
    ...(withPeers ? [`${OURS} ÷ best peer`] : []),
  ];
  const align: Align[] = ['left', 'left', ...header.slice(2).map((): Align => 'right')];
  const cells = rows.map((row) => {
    const summary = summarizeRow(row);
    const bestPeer =
      summary.bestPeer === undefined
        ? NONE
        : `${formatRatio(summary.oursOverBestPeer)} (${summary.bestPeer})`;
    return [
      metricText(row),
      row.better,
      ...paths.map((path) => summary.medians[path]?.toFixed(row.digits) ?? NONE),
      ...(withDirect ? [formatRatio(summary.oursOverDirect)] : []),
      ...(withPeers ? [bestPeer] : []),
    ];
  });
  return markdownTable(header, align, cells);
}

/** The runs behind each median: a wide spread says the machine was busy, not that a path changed. */
export function renderRuns(rows: readonly Row[]): string {
  const paths = pathsIn(rows);
  const header = ['metric', ...paths.map((path) => `${path}, each run`)];
  const align: Align[] = ['left', ...paths.map((): Align => 'right')];
  const cells = rows.map((row) => [
    metricText(row),
    ...paths.map((path) => row.runs[path]?.map((value) => value.toFixed(row.digits)).join(' / ') ?? NONE),
  ]);
  return markdownTable(header, align, cells);
}

export interface TargetResult {
  readonly row: Row;
  readonly target: Target;
  /** Ours ÷ the path (for a ratio target) or ours (for an absolute one); undefined when not measured. */
  readonly value: number | undefined;
  readonly met: boolean | undefined;
}

export function evaluateTargets(rows: readonly Row[]): TargetResult[] {
  return rows.flatMap((row) =>
    (row.targets ?? []).map((target) => {
      const { medians } = summarizeRow(row);
      const ours = medians[OURS];
      const other = target.against === undefined ? undefined : medians[target.against];
      const value =
        target.against === undefined
          ? ours
          : ours === undefined || other === undefined
            ? undefined
            : ours / other;
      const met =
        value === undefined
          ? undefined
          : (target.atLeast === undefined || value >= target.atLeast) &&
            (target.atMost === undefined || value <= target.atMost);
      return { row, target, value, met };
    }),
  );
}

function resultText(target: Target, met: boolean | undefined): string {
  if (met === undefined) return 'not measured';
  if (target.reference === true) return met ? 'within (reference)' : 'above (reference)';
  return met ? 'met' : 'not met';
}

export function renderTargets(results: readonly TargetResult[]): string {
  const cells = results.map(({ row, target, value, met }) => [
    target.description,
    metricText(row),
    value === undefined
      ? NONE
      : target.against === undefined
        ? value.toFixed(row.digits)
        : `${value.toFixed(2)}× ${target.against}`,
    resultText(target, met),
  ]);
  return markdownTable(['target', 'row', OURS, 'result'], ['left', 'left', 'right', 'left'], cells);
}
