import { median } from './stats.js';
import type { RoundTripResult } from './flows.js';

/** Every measurement of one path, one entry per repetition. */
export interface PathRuns {
  readonly bulkOne: number[];
  readonly bulkParallel: number[];
  readonly roundTrips: RoundTripResult[];
}

export interface Row {
  readonly metric: string;
  readonly direct: number;
  readonly pair: number;
  /** Every repetition, in order, so the spread behind each median stays visible. */
  readonly directRuns: readonly number[];
  readonly pairRuns: readonly number[];
  /** Decimal places of the values; the ratio always has two. */
  readonly digits: number;
}

/** The medians of the repetitions, one row per metric. */
export function summarize(direct: PathRuns, pair: PathRuns, parallelConnections: number): Row[] {
  const row = (metric: string, digits: number, pick: (runs: PathRuns) => number[]): Row => ({
    metric,
    direct: median(pick(direct)),
    pair: median(pick(pair)),
    directRuns: pick(direct),
    pairRuns: pick(pair),
    digits,
  });
  const latency = (field: keyof RoundTripResult) => (runs: PathRuns) => runs.roundTrips.map((r) => r[field]);
  return [
    row('bulk throughput, 1 connection (Gbit/s)', 2, (runs) => runs.bulkOne),
    row(
      `bulk throughput, ${String(parallelConnections)} connections (Gbit/s)`,
      2,
      (runs) => runs.bulkParallel,
    ),
    row('1 KiB request/response p50 (µs)', 0, latency('p50Us')),
    row('1 KiB request/response p90 (µs)', 0, latency('p90Us')),
    row('1 KiB request/response p99 (µs)', 0, latency('p99Us')),
    row('1 KiB request/response, 1 connection (requests/s)', 0, latency('requestsPerSecond')),
  ];
}

/** A Markdown table: pair ÷ direct in the last column for every metric (see README for how to read it). */
export function renderTable(rows: readonly Row[]): string {
  const lines = ['| metric | direct | ztunnel pair | ratio (pair ÷ direct) |', '|---|---:|---:|---:|'];
  for (const { metric, direct, pair, digits } of rows) {
    lines.push(
      `| ${metric} | ${direct.toFixed(digits)} | ${pair.toFixed(digits)} | ${(pair / direct).toFixed(2)}× |`,
    );
  }
  return lines.join('\n');
}

/** The repetitions behind each median: a wide spread says the machine was busy, not that a path changed. */
export function renderRuns(rows: readonly Row[]): string {
  const lines = ['| metric | direct, each run | ztunnel pair, each run |', '|---|---:|---:|'];
  for (const { metric, directRuns, pairRuns, digits } of rows) {
    const list = (runs: readonly number[]): string => runs.map((v) => v.toFixed(digits)).join(' / ');
    lines.push(`| ${metric} | ${list(directRuns)} | ${list(pairRuns)} |`);
  }
  return lines.join('\n');
}
