import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isMeshError } from '@ambient/core';
import { EXAMPLE_MESH_DIR, readMeshFolder } from './mesh-folder.js';
import { CA_LISTEN, OUTSIDE_APP, planFolder, planMesh } from './mesh-plan.js';
import { resolveTour, TOUR, type ResolvedStep, type StepResolution } from './tour.js';

const PLAN = await planFolder(EXAMPLE_MESH_DIR);

function readySteps(resolutions: readonly StepResolution[]): ResolvedStep[] {
  return resolutions.map((resolution) => {
    if (resolution.kind !== 'ready')
      throw new Error(`step ${String(resolution.number)}: ${resolution.reason}`);
    return resolution.step;
  });
}

/** A copy of the example to edit, removed after each test. */
const copies: string[] = [];
async function exampleCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-example-'));
  copies.push(dir);
  await cp(EXAMPLE_MESH_DIR, dir, { recursive: true });
  return dir;
}
afterEach(async () => {
  await Promise.all(copies.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('the committed example mesh (examples/mesh)', () => {
  it('converts without a problem', () => {
    expect(PLAN.problems).toEqual([]);
  });

  it('runs a ztunnel per node on the launcher addresses, each owing a certificate per mesh identity', () => {
    expect(PLAN.nodes.map((n) => [n.name, n.instanceIp, n.workloads.map((w) => w.name)])).toEqual([
      ['node-a', '127.0.0.11', ['productpage', 'sleep']],
      ['node-b', '127.0.0.12', ['echo-v1', 'echo-v2', 'legacy', 'reviews']],
    ]);
    // echo-v1 and echo-v2 share one identity; legacy is not in the mesh, so it needs none.
    expect(PLAN.nodes.map((n) => n.meshIdentities)).toEqual([
      ['spiffe://cluster.local/ns/default/sa/productpage', 'spiffe://cluster.local/ns/default/sa/sleep'],
      ['spiffe://cluster.local/ns/default/sa/echo', 'spiffe://cluster.local/ns/default/sa/reviews'],
    ]);
    expect(PLAN.unplaced).toEqual([]);
  });

  it('puts the control plane on an address of its own, clear of every node and pod', () => {
    const used = [
      ...PLAN.nodes.map((n) => n.instanceIp),
      ...PLAN.snapshot.workloads.flatMap((w) => w.workloadIps),
      OUTSIDE_APP.ip,
    ];
    expect(CA_LISTEN).toEqual({ ip: '127.0.0.10', port: 15012 });
    expect(used).not.toContain(CA_LISTEN.ip);
  });

  it('has every workload and service the tour visits, each reached the way the tour means', () => {
    const steps = readySteps(resolveTour(PLAN));
    expect(steps).toHaveLength(TOUR.length);
    expect(
      steps.map((s) => [
        s.source.name,
        `${s.target.ip}:${String(s.target.port)}`,
        s.destinations.map((d) => `${d.name}/${d.path}`),
      ]),
    ).toEqual([
      ['sleep', '127.0.2.1:8080', ['echo-v1/hbone']],
      ['sleep', '127.10.0.1:80', ['echo-v1/hbone', 'echo-v2/hbone']],
      ['productpage', '127.0.2.2:8080', ['reviews/hbone']],
      ['sleep', '127.0.2.2:8080', ['reviews/hbone']],
      ['sleep', '127.0.2.9:8080', ['legacy/tcp']],
      ['sleep', '127.0.3.1:8080', ['outside/passthrough']],
    ]);
  });

  it('denies sleep → reviews by its policy, and nothing else', () => {
    const verdicts = readySteps(resolveTour(PLAN)).map((s) => s.destinations.map((d) => d.authorization));
    expect(verdicts[2]).toEqual([{ allowed: true, reason: 'allowed by: default/reviews-callers' }]);
    expect(verdicts[3]).toEqual([
      {
        allowed: false,
        message: 'allow policies exist, but none allowed',
        policies: ['default/reviews-callers'],
      },
    ]);
    const others = [verdicts[0], verdicts[1], verdicts[4], verdicts[5]].flatMap((step) => step ?? []);
    expect(others.map((verdict) => verdict.allowed)).toEqual([true, true, true, true, true]);
  });
});

describe('planMesh', () => {
  it('follows the policies of the folder: without policies.yaml, sleep → reviews is allowed', async () => {
    const dir = await exampleCopy();
    await rm(join(dir, 'policies.yaml'));
    const steps = readySteps(resolveTour(await planFolder(dir)));
    expect(steps[3]?.destinations[0]?.authorization).toEqual({
      allowed: true,
      reason: 'allowed: no allow policies apply',
    });
  });

  it("expects a DENY policy's name in the reason", async () => {
    const dir = await exampleCopy();
    await writeFile(
      join(dir, 'policies.yaml'),
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-sleep, namespace: default }
spec:
  action: DENY
  rules: [{ from: [{ source: { principals: [cluster.local/ns/default/sa/sleep] } }] }]
`,
    );
    const steps = readySteps(resolveTour(await planFolder(dir)));
    // A namespace-wide DENY: every step from sleep to a mesh pod is denied, productpage's is not.
    expect(steps.map((s) => s.destinations.map((d) => d.authorization.allowed))).toEqual([
      [false],
      [false, false],
      [true],
      [false],
      [true],
      [true],
    ]);
    expect(steps[0]?.destinations[0]?.authorization).toMatchObject({
      message: 'explicitly denied by: default/no-sleep',
    });
  });

  it('reports conversion problems and plans the rest', async () => {
    const dir = await exampleCopy();
    await writeFile(
      join(dir, 'broken.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: { name: broken }\nspec: { nodeName: 7 }\n',
    );
    const plan = await planFolder(dir);
    expect(plan.problems.length).toBeGreaterThan(0);
    expect(plan.problems[0]?.origin).toContain('broken.yaml');
    expect(plan.nodes.map((n) => n.workloads.length)).toEqual([2, 4]);
  });

  it('refuses addresses off loopback, listing every one', async () => {
    const dir = await exampleCopy();
    const pods = await readFile(join(dir, 'pods.yaml'), 'utf8');
    await writeFile(join(dir, 'pods.yaml'), pods.replaceAll('127.0.1.1', '10.1.1.1'));
    const services = await readFile(join(dir, 'services.yaml'), 'utf8');
    await writeFile(join(dir, 'services.yaml'), services.replaceAll('127.10.0.1', '10.10.0.1'));
    let error: unknown;
    try {
      await planFolder(dir);
    } catch (err) {
      error = err;
    }
    expect(isMeshError(error, ErrorCode.ConfigInvalid)).toBe(true);
    expect(String(error)).toContain('workload sleep: 10.1.1.1 is not in 127.0.0.0/8');
    expect(String(error)).toContain('VIP 10.10.0.1 is not in 127.0.0.0/8');
  });

  it('keeps the running nodes and their addresses; a pod on a new node is unplaced', async () => {
    const dir = await exampleCopy();
    const pods = await readFile(join(dir, 'pods.yaml'), 'utf8');
    await writeFile(join(dir, 'pods.yaml'), pods.replace('nodeName: node-a', 'nodeName: node-0'));
    const plan = planMesh(await readMeshFolder(dir), dir, PLAN.nodes);
    expect(plan.nodes.map((n) => [n.name, n.instanceIp])).toEqual([
      ['node-a', '127.0.0.11'],
      ['node-b', '127.0.0.12'],
    ]);
    expect(plan.unplaced.map((w) => [w.name, w.node])).toEqual([['sleep', 'node-0']]);
    const [first] = resolveTour(plan);
    expect(first).toEqual({
      kind: 'unavailable',
      number: 1,
      reason: 'sleep is on node-0, which has no ztunnel here (restart to add one)',
    });
  });
});

describe('resolveTour', () => {
  it('reports a step whose workload the mesh config lacks instead of running it', async () => {
    const dir = await exampleCopy();
    const pods = await readFile(join(dir, 'pods.yaml'), 'utf8');
    await writeFile(join(dir, 'pods.yaml'), pods.replace('name: reviews', 'name: ratings'));
    const resolutions = resolveTour(await planFolder(dir));
    expect(resolutions[2]).toEqual({
      kind: 'unavailable',
      number: 3,
      reason: 'no workload reviews in the mesh config',
    });
    expect(resolutions.filter((r) => r.kind === 'ready')).toHaveLength(TOUR.length - 2);
  });
});
