import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isMeshError, MeshError } from './errors.js';

const docs = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Set([...docs.matchAll(/^\|\s*`(MESH_ERR_[A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]));

describe('error codes', () => {
  it('are all documented in docs/errors.md, and the docs list no others', () => {
    expect(documented).toEqual(new Set(Object.values(ErrorCode)));
  });

  it('are unique and follow MESH_ERR_<AREA>_<WHAT>', () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^MESH_ERR_[A-Z0-9]+(_[A-Z0-9]+)+$/);
  });

  it('are matched by code, not by message', () => {
    const err = new MeshError(ErrorCode.SelfCall, 'anything');
    expect(isMeshError(err, ErrorCode.SelfCall)).toBe(true);
    expect(isMeshError(err, ErrorCode.ConnectFailed)).toBe(false);
    expect(isMeshError(new Error('MESH_ERR_SELF_CALL'))).toBe(false);
  });
});
