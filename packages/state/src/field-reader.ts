import { isIP } from 'node:net';

export type PlainObject = Readonly<Record<string, unknown>>;

export function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Longer values are cut so that one pasted blob cannot drown the other problems.
const SHOWN_VALUE_MAX_CHARS = 60;

/** A value as the operator wrote it, for a message: strings quoted, everything else as JSON. */
export function showValue(value: unknown): string {
  // YAML yields only JSON-representable values, so JSON.stringify always has an answer here.
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > SHOWN_VALUE_MAX_CHARS ? `${text.slice(0, SHOWN_VALUE_MAX_CHARS)}…` : text;
}

/** Every problem in one file, each as `<file>: <object>: <field>: <what>`. */
export class ProblemList {
  readonly problems: string[] = [];

  constructor(readonly file: string) {}

  add(where: string, what: string): void {
    this.problems.push(`${this.file}: ${where}: ${what}`);
  }
}

// RFC 1123, as Kubernetes checks namespaces (label) and object names (subdomain).
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
// ServiceEntry hosts may be wildcards (`*.example.com`) and may carry upper case.
const SERVICE_HOSTNAME =
  /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
// SPIFFE trust domains: lower-case letters, digits, dots, dashes and underscores.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;

export type TextRule = 'any' | 'dnsLabel' | 'dnsSubdomain' | 'hostname' | 'trustDomain';

const TEXT_RULES: Record<Exclude<TextRule, 'any'>, { readonly test: RegExp; readonly what: string }> = {
  dnsLabel: { test: DNS_LABEL, what: 'a DNS label (lower-case letters, digits and "-", at most 63)' },
  dnsSubdomain: { test: DNS_SUBDOMAIN, what: 'a DNS subdomain (lower-case letters, digits, "-" and ".")' },
  hostname: { test: SERVICE_HOSTNAME, what: 'a hostname' },
  trustDomain: { test: TRUST_DOMAIN, what: 'a trust domain (lower-case letters, digits, ".", "-", "_")' },
};

/** Whether a non-empty string follows a naming rule. */
export function followsRule(value: string, rule: TextRule): boolean {
  return rule === 'any' || TEXT_RULES[rule].test.test(value);
}

// Close enough to be a typo of a known name: one slip per four letters, at most two.
const TYPO_MAX_EDITS = 2;
const LETTERS_PER_TYPO = 4;

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known name a misspelt one most likely meant, if any is close. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const allowed = Math.min(TYPO_MAX_EDITS, Math.ceil(name.length / LETTERS_PER_TYPO));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = name.toLowerCase() === candidate.toLowerCase() ? 0 : editDistance(name, candidate);
    if (distance <= allowed && (best === undefined || distance < best.distance))
      best = { name: candidate, distance };
  }
  return best?.name;
}

const MAX_PORT = 65535;

/** A port written as a number (values) or as a YAML key (text of digits). */
function asPort(value: unknown, allowZero: boolean): number | undefined {
  const port =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isInteger(port) && port >= (allowZero ? 0 : 1) && port <= MAX_PORT ? port : undefined;
}

/**
 * Reads one YAML object's fields, reporting each problem against the object (`workloads[2]
 * (default/echo-a)`) and the field, and carrying on so that one pass finds every problem.
 */
export class FieldReader {
  private label = '';

  constructor(
    private readonly problems: ProblemList,
    private readonly path: string,
    readonly value: PlainObject,
  ) {}

  /** Names the object in later problems, once its name is known. */
  setLabel(label: string): void {
    this.label = label === '' ? '' : ` (${label})`;
  }

  /** A reader for a nested mapping, reporting into the same list as `<this object>: <field>`. */
  child(field: string, value: PlainObject): FieldReader {
    return new FieldReader(this.problems, `${this.where}: ${field}`, value);
  }

  get where(): string {
    return `${this.path}${this.label}`;
  }

  problem(field: string, what: string): void {
    const where = this.where;
    this.problems.add(where === '' ? field : `${where}: ${field}`, what);
  }

  /** Unknown fields are problems: a typo must not silently fall back to a default. */
  rejectUnknownFields(known: readonly string[]): void {
    for (const field of Object.keys(this.value)) {
      if (known.includes(field)) continue;
      const near = closestName(field, known);
      this.problem(
        field,
        near === undefined
          ? `unknown field (known: ${known.join(', ')})`
          : `unknown field (did you mean ${near}?)`,
      );
    }
  }

  has(field: string): boolean {
    return this.value[field] !== undefined && this.value[field] !== null;
  }

  /** A string field; absent (or null) → undefined. */
  string(field: string, rule: TextRule = 'any'): string | undefined {
    if (!this.has(field)) return undefined;
    return this.checkText(field, this.value[field], rule);
  }

  requiredString(field: string, rule: TextRule = 'any'): string | undefined {
    const value = this.string(field, rule);
    if (!this.has(field) || value === '') this.problem(field, 'required');
    return value === '' ? undefined : value;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T | undefined {
    const value = this.string(field);
    if (value === undefined) return undefined;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problem(field, `${showValue(value)} is not one of ${allowed.join(', ')}`);
    return undefined;
  }

  /** A list of strings; absent → undefined. Each item is checked against the rule. */
  stringList(field: string, rule: TextRule = 'any'): string[] | undefined {
    const items = this.list(field);
    if (items === undefined) return undefined;
    const strings: string[] = [];
    items.forEach((item, index) => {
      const text = this.checkText(`${field}[${String(index)}]`, item, rule);
      if (text !== undefined) strings.push(text);
    });
    return strings;
  }

  /** A list of IP addresses; reports each bad item with its index. Items keep their index (or undefined). */
  ipList(field: string): (string | undefined)[] | undefined {
    const items = this.list(field);
    if (items === undefined) return undefined;
    return items.map((item, index) => {
      const itemField = `${field}[${String(index)}]`;
      if (typeof item !== 'string' || isIP(item) === 0) {
        this.problem(itemField, `${showValue(item)} is not an IP address`);
        return undefined;
      }
      return item;
    });
  }

  list(field: string): unknown[] | undefined {
    if (!this.has(field)) return undefined;
    const value = this.value[field];
    if (!Array.isArray(value)) {
      this.problem(field, `expected a list, got ${showValue(value)}`);
      return undefined;
    }
    return value as unknown[];
  }

  /** A nested object; absent → undefined. */
  object(field: string): PlainObject | undefined {
    if (!this.has(field)) return undefined;
    const value = this.value[field];
    if (!isPlainObject(value)) {
      this.problem(field, `expected a mapping, got ${showValue(value)}`);
      return undefined;
    }
    return value;
  }

  /**
   * A mapping `servicePort: targetPort` (the YAML `{ 80: 8080 }`). Service ports are 1-65535; target
   * ports 0-65535, 0 meaning "not known here". `field` names the mapping in problems.
   */
  portMap(field: string, mapping: unknown): Map<number, number> | undefined {
    if (!isPlainObject(mapping)) {
      this.problem(field, `expected a mapping of service port to target port, got ${showValue(mapping)}`);
      return undefined;
    }
    const ports = new Map<number, number>();
    for (const [key, target] of Object.entries(mapping)) {
      const servicePort = asPort(key, false);
      if (servicePort === undefined) {
        this.problem(`${field}[${key}]`, `${showValue(key)} is not a port (1-${String(MAX_PORT)})`);
        continue;
      }
      const targetPort = asPort(typeof target === 'number' ? target : NaN, true);
      if (targetPort === undefined) {
        this.problem(`${field}[${key}]`, `target ${showValue(target)} is not a port (0-${String(MAX_PORT)})`);
        continue;
      }
      ports.set(servicePort, targetPort);
    }
    return ports;
  }

  private checkText(field: string, value: unknown, rule: TextRule): string | undefined {
    if (typeof value !== 'string') {
      this.problem(field, `expected a string, got ${showValue(value)}`);
      return undefined;
    }
    if (rule === 'any' || value === '' || followsRule(value, rule)) return value;
    this.problem(field, `${showValue(value)} is not ${TEXT_RULES[rule].what}`);
    return undefined;
  }
}
