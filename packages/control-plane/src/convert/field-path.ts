/*
 * Problems name fields the way an operator reads YAML: `spec.rules[0].from[1].source.principals[0]`,
 * with keys that are not plain words quoted: `metadata.labels["istio.io/use-waypoint"]`.
 */

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

/** `base` followed by one more key or list index. */
export function appendField(base: string, segment: string | number): string {
  if (typeof segment === 'number') return `${base}[${String(segment)}]`;
  if (!PLAIN_KEY.test(segment)) return `${base}[${JSON.stringify(segment)}]`;
  return base === '' ? segment : `${base}.${segment}`;
}

/**
 * A dotted field from a path already written as one (`spec.rules[0]`, or a single key) and the keys and
 * indexes below it: `field('spec.rules[0]', 'to', 1)` is `spec.rules[0].to[1]`.
 */
export function field(path: string, ...segments: readonly (string | number)[]): string {
  return segments.reduce<string>((base, segment) => appendField(base, segment), path);
}

/** Where a JSON pointer (AJV's `instancePath`) leads, and the value found there. */
export interface PointerTarget {
  readonly field: string;
  readonly value: unknown;
}

/**
 * Follows a JSON pointer through the data, so that list indexes print as `[0]` and numeric map keys
 * (`portLevelMtls: { 8080: … }`) as `["8080"]`.
 */
export function resolvePointer(data: unknown, pointer: string): PointerTarget {
  let path = '';
  let value = data;
  if (pointer === '') return { field: path, value };
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(value) && /^\d+$/.test(key)) {
      const index = Number(key);
      path = appendField(path, index);
      value = (value as unknown[])[index];
    } else {
      path = appendField(path, key);
      value =
        typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
    }
  }
  return { field: path, value };
}
