import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const packageDir = join(import.meta.dirname, '..');
const out = mkdtempSync(join(tmpdir(), 'protos-regen-'));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('generated protobuf code', () => {
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  it('is exactly what buf + ts-proto generate from our .proto files today', () => {
    // Same template, output redirected: the checked-in src/gen must match byte for byte.
    execFileSync(join(packageDir, '../../node_modules/.bin/buf'), ['generate', '--output', out], {
      cwd: packageDir,
      stdio: 'pipe',
    });
    const fresh = join(out, 'src/gen');
    const committed = join(packageDir, 'src/gen');
    const list = (dir: string) =>
      files(dir)
        .map((f) => relative(dir, f))
        .sort();
    expect(list(fresh)).toEqual(list(committed));
    for (const file of list(committed)) {
      expect(readFileSync(join(fresh, file), 'utf8'), file).toBe(readFileSync(join(committed, file), 'utf8'));
    }
  });
});
