import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// DESIGN.md §3: a workspace's tsconfig references must name exactly the workspaces its package.json
// depends on, or `tsc -b` builds in the wrong order (or not at all) while tests, which import
// sources through vitest aliases, still pass.

const ROOT = resolve(import.meta.dirname, '..');

interface PackageJson {
  readonly name: string;
  readonly workspaces?: readonly string[];
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
}

/** JSON, or tsconfig's JSON with whole-line `//` comments. */
function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8').replace(/^\s*\/\/.*$/gm, ''));
}

const workspaces = (readJson(join(ROOT, 'package.json')) as PackageJson).workspaces ?? [];
const nameOf = new Map(
  workspaces.map((dir) => [(readJson(join(ROOT, dir, 'package.json')) as PackageJson).name, dir]),
);

describe('workspace dependencies and tsconfig references agree', () => {
  it.each(workspaces)('%s', (dir) => {
    const pkg = readJson(join(ROOT, dir, 'package.json')) as PackageJson;
    const dependsOn = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })
      .filter((name) => nameOf.has(name))
      .map((name) => basename(nameOf.get(name) ?? ''))
      .sort();
    const tsconfig = readJson(join(ROOT, dir, 'tsconfig.json')) as {
      references?: readonly { path: string }[];
    };
    const references = (tsconfig.references ?? []).map((reference) => basename(reference.path)).sort();
    expect(references).toEqual(dependsOn);
  });
});
