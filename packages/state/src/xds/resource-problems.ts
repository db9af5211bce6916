import { ErrorCode, errorMessage, MeshError } from '@ambient/core';

/** The largest port number; uint32 fields on the wire can carry more. */
export const MAX_PORT = 65535;

/**
 * Every problem of one xDS resource, each as `<field>: <what>`, thrown together as one MeshError
 * (`workload "abc": addresses[1]: expected 4 or 16 bytes, got 3; status: unknown value 7`) so that a
 * NACK tells the control plane everything wrong with the resource at once.
 */
export class ResourceProblems {
  private readonly problems: string[] = [];

  /** `subject` names the resource: `workload "<name>"`. */
  constructor(private readonly subject: string) {}

  add(field: string, what: string): void {
    this.problems.push(`${field}: ${what}`);
  }

  /** A port field: 1..65535, or also 0 when `allowZero` (0 = "not known here"). */
  checkPort(field: string, port: number, allowZero = false): boolean {
    if (Number.isInteger(port) && port >= (allowZero ? 0 : 1) && port <= MAX_PORT) return true;
    this.add(field, `${String(port)} is not a port (${allowZero ? '0' : '1'}-${String(MAX_PORT)})`);
    return false;
  }

  /** A wire enum value through its table; unknown values (a newer control plane) are problems. */
  enumValue<E extends number, T>(field: string, table: ReadonlyMap<E, T>, value: E): T | undefined {
    const mapped = table.get(value);
    if (mapped === undefined) this.add(field, `unknown value ${String(value)}`);
    return mapped;
  }

  /** Add this problem and throw with everything found so far. */
  fail(field: string, what: string): never {
    this.add(field, what);
    throw this.error();
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw this.error();
  }

  /** A value whose absence was already reported: after `throwIfAny`, it is there. */
  present<T>(value: T | undefined): T {
    if (value === undefined) throw this.error();
    return value;
  }

  private error(): MeshError {
    return new MeshError(ErrorCode.XdsInvalidResource, `${this.subject}: ${this.problems.join('; ')}`);
  }
}

/** Decode a protobuf message, turning a malformed-bytes failure into a MeshError naming the resource. */
export function decodeMessage<T>(subject: string, type: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    const message = `${subject}: cannot decode ${type}: ${errorMessage(error)}`;
    throw new MeshError(ErrorCode.XdsInvalidResource, message, { cause: error });
  }
}

/** The xDS name of a resource in messages: quoted, so an empty or odd name still reads clearly. */
export function quoted(name: string): string {
  return JSON.stringify(name);
}
