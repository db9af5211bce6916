import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isMeshError } from '@ambient/core';
import { sleep } from './logged-child.js';
import {
  controlPlaneConvertEnv,
  describeProblem,
  displayPath,
  EXAMPLE_MESH_DIR,
  MeshFolder,
  type MeshConfig,
} from './mesh-folder.js';

const dirs: string[] = [];
async function exampleCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-folder-'));
  dirs.push(dir);
  await cp(EXAMPLE_MESH_DIR, dir, { recursive: true });
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Polls the folder's view until it satisfies `test` (the watcher's debounce is 100 ms); fails after 100 polls. */
async function until(folder: MeshFolder, test: (config: MeshConfig) => boolean): Promise<MeshConfig> {
  for (let poll = 0; poll < 100; poll++) {
    const config = folder.current();
    if (test(config)) return config;
    await sleep(50);
  }
  throw new Error('the folder never showed the change');
}

describe('MeshFolder', () => {
  it('follows edits; a file with a YAML error keeps its last good objects, as in the control plane', async () => {
    const dir = await exampleCopy();
    const troubles: string[] = [];
    const folder = await MeshFolder.open(dir, (message) => troubles.push(message));
    try {
      expect(folder.current().snapshot.authorizations).toHaveLength(1);
      await rm(join(dir, 'policies.yaml'));
      await until(folder, (config) => config.snapshot.authorizations?.length === 0);

      await writeFile(join(dir, 'pods.yaml'), 'kind: [');
      const broken = await until(folder, (config) => config.problems.length > 0);
      expect(
        describeProblem(broken.problems[0] ?? { origin: '', object: '', field: '', message: '' }),
      ).toMatch(/^invalid config: YAML syntax error: .* \(file .*pods\.yaml#1, object document 1\)$/);
      expect(broken.snapshot.workloads).toHaveLength(6);
      expect(troubles).toEqual([]);
    } finally {
      await folder.close();
    }
  });

  it('refuses a folder that does not exist', async () => {
    const error: unknown = await MeshFolder.open(join(tmpdir(), 'no-such-mesh-folder'), () => undefined).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isMeshError(error, ErrorCode.ConfigSourceUnavailable)).toBe(true);
  });
});

describe('describeProblem', () => {
  it("reads like the control plane's log line, a warning marked as used anyway", () => {
    const problem = {
      origin: join(process.cwd(), 'examples/mesh/policies.yaml#1'),
      object: 'AuthorizationPolicy default/x',
      field: 'spec.rules[0]',
      message: 'unsupported',
    };
    expect(describeProblem(problem)).toBe(
      'invalid config: unsupported (file examples/mesh/policies.yaml#1, object AuthorizationPolicy default/x, field spec.rules[0])',
    );
    expect(describeProblem({ ...problem, field: '', severity: 'warning' })).toBe(
      'invalid config (warning, used anyway): unsupported (file examples/mesh/policies.yaml#1, object AuthorizationPolicy default/x)',
    );
  });
});

describe('displayPath', () => {
  it('is relative inside the working directory and absolute outside it', () => {
    expect(displayPath(join(process.cwd(), 'examples', 'mesh'))).toBe(join('examples', 'mesh'));
    expect(displayPath(process.cwd())).toBe('.');
    expect(displayPath('/somewhere/else')).toBe('/somewhere/else');
  });
});

describe('controlPlaneConvertEnv', () => {
  it("gives the control plane the launcher's conversion settings by their istiod names", () => {
    expect(controlPlaneConvertEnv()).toEqual({
      CLUSTER_ID: 'Kubernetes',
      TRUST_DOMAIN: 'cluster.local',
      ISTIO_ROOT_NAMESPACE: 'istio-system',
      DOMAIN_SUFFIX: 'cluster.local',
    });
  });
});
