import { formatSocketAddress } from '@ambient/core';
import { APP_PORT, ECHO_SERVICE, podNamed, type DemoPlan, type DemoPod } from './demo-plan.js';

/**
 * What a step shows, and so what its checks expect:
 * - `mesh`: both pods captured, HBONE with mTLS between their ztunnels;
 * - `denied`: the same, but an AuthorizationPolicy refuses the caller (the connection fails);
 * - `uncaptured-server`: the destination is outside the mesh: plain TCP from the caller's ztunnel;
 * - `passthrough`: no workload has the address: the caller's ztunnel passes it through;
 * - `uncaptured-client`: the caller is outside the mesh, the destination's capture sends it to
 *   its ztunnel's plaintext inbound port (15006).
 */
export type Expectation = 'mesh' | 'denied' | 'uncaptured-server' | 'passthrough' | 'uncaptured-client';

/** Who may answer a step: a pod of the plan, or the server outside the mesh. */
export interface Destination {
  readonly name: string;
  readonly ip: string;
  readonly pod: DemoPod | undefined;
}

export interface TourStep {
  /** 1-based, as printed. */
  readonly number: number;
  readonly from: DemoPod;
  /** What the program dials. */
  readonly target: { readonly ip: string; readonly port: number };
  /** `echo-v1`, `echo (VIP)`, `outside`. */
  readonly targetName: string;
  /** Several for a service VIP: its endpoints. */
  readonly destinations: readonly Destination[];
  readonly expectation: Expectation;
  /** An unmodified program, run inside the caller's pod. */
  readonly program: 'curl' | 'nc';
  readonly isService: boolean;
}

export interface TourOptions {
  /** Whether `nc` (netcat-openbsd) is installed: it adds a raw TCP step. */
  readonly nc: boolean;
}

/**
 * The loopback demo's tour on real capture: a pod on another node, a service VIP, allowed and
 * denied callers, a pod outside the mesh either way, and an address no workload has.
 */
export function planTour(plan: DemoPlan, options: TourOptions): TourStep[] {
  const pod = (name: string): DemoPod => podNamed(plan, name);
  const to = (target: DemoPod): Pick<TourStep, 'target' | 'targetName' | 'destinations' | 'isService'> => ({
    target: { ip: target.ip, port: APP_PORT },
    targetName: target.name,
    destinations: [{ name: target.name, ip: target.ip, pod: target }],
    isService: false,
  });
  const echoEndpoints = plan.pods.filter((candidate) => candidate.app === 'echo');
  const steps: Omit<TourStep, 'number'>[] = [
    { from: pod('sleep'), ...to(pod('echo-v1')), expectation: 'mesh', program: 'curl' },
    {
      from: pod('sleep'),
      target: { ip: ECHO_SERVICE.vip, port: ECHO_SERVICE.port },
      targetName: `${ECHO_SERVICE.name} (VIP)`,
      destinations: echoEndpoints.map((endpoint) => ({
        name: endpoint.name,
        ip: endpoint.ip,
        pod: endpoint,
      })),
      isService: true,
      expectation: 'mesh',
      program: 'curl',
    },
    { from: pod('productpage'), ...to(pod('reviews')), expectation: 'mesh', program: 'curl' },
    { from: pod('sleep'), ...to(pod('reviews')), expectation: 'denied', program: 'curl' },
    { from: pod('sleep'), ...to(pod('legacy')), expectation: 'uncaptured-server', program: 'curl' },
    { from: pod('legacy'), ...to(pod('echo-v1')), expectation: 'uncaptured-client', program: 'curl' },
    {
      from: pod('sleep'),
      target: { ip: plan.outsideIp, port: APP_PORT },
      targetName: 'outside',
      destinations: [{ name: 'outside', ip: plan.outsideIp, pod: undefined }],
      isService: false,
      expectation: 'passthrough',
      program: 'curl',
    },
  ];
  if (options.nc)
    steps.push({ from: pod('sleep'), ...to(pod('echo-v1')), expectation: 'mesh', program: 'nc' });
  return steps.map((step, index) => ({ ...step, number: index + 1 }));
}

/** `echo-v1 10.99.2.2:8080`. */
export function describeTarget(step: TourStep): string {
  return `${step.targetName} ${formatSocketAddress(step.target.ip, step.target.port)}`;
}
