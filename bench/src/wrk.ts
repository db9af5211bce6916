import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { trackChild } from './cleanup.js';

/*
 * wrk (HTTP/1.1, Debian's package) as the HTTP load generator: one thread on the load core,
 * `--latency` for the percentiles. wrk2's fixed rate is not in Debian, so a fixed rate comes from
 * wrk's own Lua `delay()` hook: each connection waits a fixed time after every response.
 */

export interface WrkResult {
  readonly requestsPerSecond: number;
  readonly requests: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  /** Socket errors plus non-2xx/3xx responses: anything but zero makes the run worthless. */
  readonly errors: number;
}

const UNIT_US: Readonly<Record<string, number>> = { us: 1, ms: 1_000, s: 1_000_000, m: 60_000_000 };

/** Parses wrk's report (run with --latency). Throws when a figure is missing. */
export function parseWrkOutput(text: string): WrkResult {
  const number = (pattern: RegExp, what: string): string[] => {
    const match = pattern.exec(text);
    if (match === null) throw new Error(`wrk output has no ${what}:\n${text}`);
    return match.slice(1);
  };
  const percentileUs = (p: number): number => {
    const [value, unit] = number(
      new RegExp(`^\\s+${String(p)}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm'),
      `${String(p)}% line`,
    );
    return Number(value) * (UNIT_US[unit ?? ''] ?? Number.NaN);
  };
  const [requestsPerSecond] = number(/^Requests\/sec:\s+([\d.]+)/m, 'Requests/sec');
  const [requests] = number(/^\s+(\d+) requests in /m, 'request count');
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const errors =
    (socketErrors?.slice(1).reduce((sum, n) => sum + Number(n), 0) ?? 0) + Number(non2xx?.[1] ?? 0);
  return {
    requestsPerSecond: Number(requestsPerSecond),
    requests: Number(requests),
    p50Us: percentileUs(50),
    p90Us: percentileUs(90),
    p99Us: percentileUs(99),
    errors,
  };
}

export interface WrkOptions {
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  /** When set, each connection pauses this long after every response (wrk's Lua delay hook). */
  readonly delayMs?: number;
  /** Where the delay script is written. */
  readonly scriptDir: string;
}

// wrk stops by itself after --duration; this only catches a hung wrk.
const WRK_GRACE_MS = 30_000;

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    '-t',
    '1',
    '-c',
    String(options.connections),
    '-d',
    `${String(options.seconds)}s`,
    '--latency',
  ];
  if (options.delayMs !== undefined) {
    const script = join(options.scriptDir, `wrk-delay-${String(options.delayMs)}ms.lua`);
    await writeFile(script, `function delay()\n  return ${String(options.delayMs)}\nend\n`);
    args.push('-s', script);
  }
  args.push(options.url);
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      'wrk',
      args,
      { timeout: options.seconds * 1000 + WRK_GRACE_MS },
      (err, out, errText) => {
        if (err) reject(new Error(`wrk ${args.join(' ')} failed: ${err.message}\n${errText}`));
        else resolve(out);
      },
    );
    trackChild(child);
  });
  const result = parseWrkOutput(stdout);
  if (result.errors > 0) throw new Error(`wrk saw ${String(result.errors)} errors:\n${stdout}`);
  return result;
}
