import { ErrorCode, MeshError } from './errors.js';

/**
 * Reads typed settings from an environment, collecting every problem instead
 * of stopping at the first, so an operator fixes a bad config in one pass.
 */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly source = 'environment',
  ) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problem(name, `expected an integer in [${String(min)}, ${String(max)}], got "${value}"`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    this.problem(name, `expected true or false, got "${value}"`);
    return fallback;
  }

  /** A duration such as `500ms`, `10s`, `5m`, `1h` (a bare number is seconds); result in ms. */
  durationMs(name: string, fallbackMs: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallbackMs;
    const ms = parseDurationMs(value);
    if (ms === undefined) {
      this.problem(name, `expected a duration like 500ms, 10s, 5m or 1h, got "${value}"`);
      return fallbackMs;
    }
    return ms;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problem(name, `expected one of ${allowed.join(', ')}, got "${value}"`);
    return fallback;
  }

  problem(field: string, what: string): void {
    this.problems.push(`${this.source}: ${field}: ${what}`);
  }

  /** Throws one error naming every problem found, if any. */
  finish(): void {
    if (this.problems.length > 0) {
      throw new MeshError(
        ErrorCode.ConfigInvalid,
        `invalid configuration (${String(this.problems.length)} problem${this.problems.length === 1 ? '' : 's'}):\n  ${this.problems.join('\n  ')}`,
      );
    }
  }
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = DURATION_UNITS_MS[match[2] ?? 's'] ?? 1000;
  return Math.round(Number(match[1]) * unit);
}
