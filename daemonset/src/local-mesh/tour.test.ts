import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isMeshError, ErrorCode } from '@ambient/core';
import { CA_LISTEN, OUTSIDE_APP, planMeshText } from './mesh-plan.js';
import { resolveTour, TOUR, type ResolvedStep } from './tour.js';

const EXAMPLE = readFileSync(new URL('../../../examples/local-mesh.yaml', import.meta.url), 'utf8');

function readySteps(text: string): ResolvedStep[] {
  return resolveTour(planMeshText(text, 'mesh.yaml')).map((resolution) => {
    if (resolution.kind !== 'ready')
      throw new Error(`step ${String(resolution.number)}: ${resolution.reason}`);
    return resolution.step;
  });
}

describe('the committed example mesh', () => {
  const plan = planMeshText(EXAMPLE, 'examples/local-mesh.yaml');

  it('runs a ztunnel per node on the launcher addresses, each owing a certificate per mesh identity', () => {
    expect(plan.nodes.map((n) => [n.name, n.instanceIp, n.workloads.map((w) => w.name)])).toEqual([
      ['node-a', '127.0.0.11', ['sleep', 'productpage']],
      ['node-b', '127.0.0.12', ['echo-v1', 'echo-v2', 'reviews', 'legacy']],
    ]);
    // echo-v1 and echo-v2 share one identity; legacy is not in the mesh, so it needs none.
    expect(plan.nodes.map((n) => n.meshIdentities)).toEqual([
      ['spiffe://cluster.local/ns/default/sa/sleep', 'spiffe://cluster.local/ns/default/sa/productpage'],
      ['spiffe://cluster.local/ns/default/sa/echo', 'spiffe://cluster.local/ns/default/sa/reviews'],
    ]);
  });

  it('puts the CA on an address of its own, clear of every node and pod', () => {
    const used = [
      ...plan.nodes.map((n) => n.instanceIp),
      ...plan.snapshot.workloads.flatMap((w) => w.workloadIps),
      OUTSIDE_APP.ip,
    ];
    expect(CA_LISTEN).toEqual({ ip: '127.0.0.10', port: 15012 });
    expect(used).not.toContain(CA_LISTEN.ip);
  });

  it('has every workload and service the tour visits, each reached the way the tour means', () => {
    const steps = readySteps(EXAMPLE);
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
      ['sleep', '127.0.2.9:8080', ['legacy/tcp']],
      ['sleep', '127.0.3.1:8080', ['outside/passthrough']],
    ]);
  });
});

describe('planMeshText', () => {
  it('refuses addresses off loopback, listing every one', () => {
    const text = EXAMPLE.replace('[127.0.1.1]', '[10.1.1.1]').replace('/127.10.0.1', '/10.10.0.1');
    let error: unknown;
    try {
      planMeshText(text, 'mesh.yaml');
    } catch (err) {
      error = err;
    }
    expect(isMeshError(error, ErrorCode.ConfigInvalid)).toBe(true);
    expect(String(error)).toContain('workload sleep: 10.1.1.1 is not in 127.0.0.0/8');
    expect(String(error)).toContain('VIP 10.10.0.1 is not in 127.0.0.0/8');
  });
});

describe('resolveTour', () => {
  it('reports a step whose workload the file lacks instead of running it', () => {
    const withoutReviews = EXAMPLE.replace('- name: reviews', '- name: ratings');
    const resolutions = resolveTour(planMeshText(withoutReviews, 'mesh.yaml'));
    expect(resolutions[2]).toEqual({ kind: 'unavailable', number: 3, reason: 'no workload reviews' });
    expect(resolutions.filter((r) => r.kind === 'ready')).toHaveLength(TOUR.length - 1);
  });
});
