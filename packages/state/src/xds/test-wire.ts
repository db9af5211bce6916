import { ErrorCode, isMeshError } from '@ambient/core';
import { security, workload as wire } from '@ambient/protos';
import { expect } from 'vitest';

/*
 * Test helpers: wire messages built from a few fields (the rest at their protobuf defaults), and the
 * one way every converter fails. Used only by the tests beside this file.
 */

export function workloadBytes(fields: Partial<wire.Workload>): Uint8Array {
  const value: wire.Workload = { ...wire.Workload.create(), ...fields };
  return wire.Address.encode({ type: { $case: 'workload', value } }).finish();
}

export function serviceBytes(fields: Partial<wire.Service>): Uint8Array {
  const value: wire.Service = { ...wire.Service.create(), ...fields };
  return wire.Address.encode({ type: { $case: 'service', value } }).finish();
}

export function authorizationBytes(fields: Partial<security.Authorization>): Uint8Array {
  return security.Authorization.encode({ ...security.Authorization.create(), ...fields }).finish();
}

/** A Match with only these fields set. */
export function wireMatch(fields: Partial<security.Match>): security.Match {
  return { ...security.Match.create(), ...fields };
}

/** A policy `ns/p` with one group, one rule, this one match. */
export function oneMatchPolicy(match: Partial<security.Match>): Uint8Array {
  return authorizationBytes({
    name: 'p',
    namespace: 'ns',
    groups: [{ rules: [{ matches: [wireMatch(match)] }] }],
  });
}

/** Raw address bytes, built independently of the converter's own parser. */
export function ip(text: string): Buffer {
  return text.includes(':') ? ipv6(text) : Buffer.from(text.split('.').map(Number));
}

/** Only the fully written or `::`-compressed forms the tests use; the converter has its own parser. */
function ipv6(text: string): Buffer {
  const [head = '', tail = ''] = text.split('::');
  const before = head === '' ? [] : head.split(':');
  const after = tail === '' ? [] : tail.split(':');
  const groups = text.includes('::')
    ? [...before, ...new Array<string>(8 - before.length - after.length).fill('0'), ...after]
    : before;
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  return bytes;
}

/** A number this enum does not define, as a newer control plane might send. */
export function unknownEnumValue<E extends number>(
  enumObject: Readonly<Record<string, E | string>>,
  value: number,
): E {
  if (Object.values<unknown>(enumObject).includes(value))
    throw new Error(`${String(value)} is a known value`);
  return value as E;
}

/** The call throws MESH_ERR_XDS_INVALID_RESOURCE with exactly this message. */
export function expectInvalid(call: () => unknown, message: string): void {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expect(isMeshError(thrown, ErrorCode.XdsInvalidResource)).toBe(true);
  expect((thrown as Error).message).toBe(message);
}
