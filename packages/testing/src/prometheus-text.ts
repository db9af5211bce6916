/** One sample of a Prometheus text exposition. */
export interface Sample {
  readonly name: string;
  readonly labels: ReadonlyMap<string, string>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of `name` in a text exposition (comments and other metrics skipped). */
export function samplesOf(text: string, name: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match?.[1] !== name) continue;
    const labels = new Map<string, string>();
    for (const pair of (match[2] ?? '').matchAll(LABEL_PAIR)) {
      labels.set(
        pair[1] ?? '',
        (pair[2] ?? '').replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c)),
      );
    }
    samples.push({ name, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include every one given. */
export function sumOf(text: string, name: string, labels: Readonly<Record<string, string>>): number {
  let sum = 0;
  for (const sample of samplesOf(text, name)) {
    if (Object.entries(labels).every(([key, value]) => sample.labels.get(key) === value)) sum += sample.value;
  }
  return sum;
}

/** A sample written back with only the chosen labels, for a reader rather than for Prometheus. */
export function formatSample(sample: Sample, labelNames: readonly string[]): string {
  const labels = labelNames
    .filter((label) => sample.labels.has(label))
    .map((label) => `${label}="${sample.labels.get(label) ?? ''}"`)
    .join(',');
  return `${sample.name}{${labels}} ${String(sample.value)}`;
}
