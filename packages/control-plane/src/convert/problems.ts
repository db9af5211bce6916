import type { SourceProblem } from '../sources/source.js';

/** Which input a problem points at: where it came from and how it is named (`Pod default/echo`). */
export interface ObjectRef {
  readonly origin: string;
  readonly object: string;
}

// Longer values are cut so that one pasted blob cannot drown the other problems.
const SHOWN_VALUE_MAX_CHARS = 60;

/** A value as the operator wrote it, for a message: strings quoted, everything else as JSON. */
export function showValue(value: unknown): string {
  // JSON has no text for functions or symbols; YAML never yields them, but say something anyway.
  const json = JSON.stringify(value) as string | undefined;
  const text = value === undefined ? 'nothing' : (json ?? typeof value);
  return text.length > SHOWN_VALUE_MAX_CHARS ? `${text.slice(0, SHOWN_VALUE_MAX_CHARS)}…` : text;
}

/** Every problem of one conversion, in the order found, each reported once. */
export class ProblemCollector {
  private readonly list: SourceProblem[] = [];
  private readonly seen = new Set<string>();

  get problems(): readonly SourceProblem[] {
    return this.list;
  }

  /** The object, or the part of it named by `field`, is left out. */
  error(ref: ObjectRef, field: string, message: string): void {
    this.push({ origin: ref.origin, object: ref.object, field, message });
  }

  /** The object is used, but not entirely as written. */
  warn(ref: ObjectRef, field: string, message: string): void {
    this.push({ origin: ref.origin, object: ref.object, field, message, severity: 'warning' });
  }

  private push(problem: SourceProblem): void {
    const key = `${problem.origin}|${problem.object}|${problem.field}|${problem.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(problem);
  }
}

/**
 * Problems of one object, counted so that a converter can report everything it finds and then
 * decide once whether the object is usable.
 */
export class ObjectProblems {
  private errors = 0;

  constructor(
    private readonly collector: ProblemCollector,
    readonly ref: ObjectRef,
  ) {}

  get hasErrors(): boolean {
    return this.errors > 0;
  }

  error(field: string, message: string): void {
    this.errors += 1;
    this.collector.error(this.ref, field, message);
  }

  warn(field: string, message: string): void {
    this.collector.warn(this.ref, field, message);
  }
}
