/** One NDJSON log line of a ztunnel, parsed. */
export type LogLine = Readonly<Record<string, unknown>>;

/** Enough to look back over one round of the tour; `npm start` runs for hours, so older lines go. */
const KEPT_LINES = 5_000;

interface Waiter {
  readonly since: number;
  readonly matches: (line: LogLine) => boolean;
  readonly resolve: (line: LogLine | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The recent log lines of one process, numbered, so a caller can note the position before it
 * acts and then wait for the line its action causes.
 */
export class LogFeed {
  private readonly lines: LogLine[] = [];
  /** Position of `lines[0]`. */
  private firstPosition = 0;
  private readonly waiters = new Set<Waiter>();

  /** Position the next line will have. */
  get position(): number {
    return this.firstPosition + this.lines.length;
  }

  push(line: LogLine): void {
    const position = this.position;
    this.lines.push(line);
    if (this.lines.length > KEPT_LINES) {
      this.lines.shift();
      this.firstPosition++;
    }
    for (const waiter of this.waiters) {
      if (position >= waiter.since && waiter.matches(line)) this.settle(waiter, line);
    }
  }

  /** The first line at or after `since` that matches, waiting up to `timeoutMs`; undefined if none came. */
  waitFor(
    since: number,
    matches: (line: LogLine) => boolean,
    timeoutMs: number,
  ): Promise<LogLine | undefined> {
    const start = Math.max(0, since - this.firstPosition);
    const found = this.lines.slice(start).find(matches);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        since,
        matches,
        resolve,
        timer: setTimeout(() => {
          this.settle(waiter, undefined);
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private settle(waiter: Waiter, line: LogLine | undefined): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
    waiter.resolve(line);
  }
}
