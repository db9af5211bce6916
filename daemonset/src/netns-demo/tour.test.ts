import { describe, expect, it } from 'vitest';
import { planCluster } from '../../../packages/testing/src/netns/plan.js';
import { NODE_COUNT, planDemo, PODS_PER_NODE } from './demo-plan.js';
import { describeTarget, planTour } from './tour.js';

const plan = planDemo(planCluster({ nodes: NODE_COUNT, podsPerNode: PODS_PER_NODE }, 'abc123').nodes);

describe('the netns tour', () => {
  it('covers the mesh both ways, a VIP, a denied caller, both sides outside the mesh and passthrough', () => {
    const summary = planTour(plan, { nc: false }).map(
      (step) =>
        `${String(step.number)} ${step.from.name} ${step.program} ${describeTarget(step)} ${step.expectation}`,
    );
    expect(summary).toEqual([
      '1 sleep curl echo-v1 10.99.2.2:8080 mesh',
      '2 sleep curl echo (VIP) 10.96.0.10:80 mesh',
      '3 productpage curl reviews 10.99.2.3:8080 mesh',
      '4 sleep curl reviews 10.99.2.3:8080 denied',
      '5 sleep curl legacy 10.99.2.4:8080 uncaptured-server',
      '6 legacy curl echo-v1 10.99.2.2:8080 uncaptured-client',
      '7 sleep curl outside 10.99.0.253:8080 passthrough',
    ]);
  });

  it('adds a raw TCP step with nc when it is installed', () => {
    const steps = planTour(plan, { nc: true });
    expect(steps.at(-1)).toMatchObject({
      number: 8,
      program: 'nc',
      targetName: 'echo-v1',
      expectation: 'mesh',
    });
  });

  it('sends the VIP step to every echo endpoint, one per node', () => {
    const vip = planTour(plan, { nc: false })[1];
    expect(vip?.isService).toBe(true);
    expect(vip?.destinations.map((d) => `${d.name} ${d.ip} ${d.pod?.node ?? '?'}`)).toEqual([
      'echo-v2 10.99.1.4 node-a',
      'echo-v1 10.99.2.2 node-b',
    ]);
  });
});
