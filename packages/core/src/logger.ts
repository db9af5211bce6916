import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { LevelWithSilent };

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Fixed fields on every line (component, node). */
  base?: Record<string, unknown>;
  /** Where lines go; stdout by default. Tests pass a collecting stream. */
  destination?: NodeJS.WritableStream;
}

/** NDJSON logs, Istio-style keys: `level` as a label, `time` as ISO-8601, `msg` renamed `message`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pinoOptions = {
    level: options.level ?? 'info',
    base: options.base ?? null,
    messageKey: 'message',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination === undefined
    ? pino(pinoOptions)
    : pino(pinoOptions, options.destination as pino.DestinationStream);
}

export function isLogLevel(value: string): value is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(value);
}
