import { describe, expect, it } from 'vitest';
import { planCluster } from '../../../packages/testing/src/netns/plan.js';
import { parseReply } from '../local-mesh/apps.js';
import type { LogLine } from '../local-mesh/log-feed.js';
import { checkProbe, checkStep } from './checks.js';
import { NODE_COUNT, planDemo, PODS_PER_NODE } from './demo-plan.js';
import type { MetricsWindow, Probe } from './probe.js';
import { planTour, type Expectation, type TourStep } from './tour.js';

const plan = planDemo(planCluster({ nodes: NODE_COUNT, podsPerNode: PODS_PER_NODE }, 'abc123').nodes);
const steps = planTour(plan, { nc: false });

function stepOf(expectation: Expectation, from: string, to: string): TourStep {
  const step = steps.find(
    (s) => s.expectation === expectation && s.from.name === from && s.targetName === to,
  );
  if (step === undefined) throw new Error(`no step ${from} → ${to}`);
  return step;
}

function metric(name: string, labels: Record<string, string>, value: number): string {
  const text = Object.entries(labels)
    .map(([key, v]) => `${key}="${v}"`)
    .join(',');
  return `${name}{${text}} ${String(value)}`;
}

/** One connection counted, opened and closed, with these labels. */
function counted(labels: Record<string, string>): MetricsWindow {
  return {
    before: '',
    after: [
      metric('istio_tcp_connections_opened_total', labels, 1),
      metric('istio_tcp_connections_closed_total', labels, 1),
    ].join('\n'),
  };
}

const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';
const ECHO = 'spiffe://cluster.local/ns/default/sa/echo';

/** What a good `sleep → echo-v1` over HBONE looks like to the launcher. */
function meshProbe(): Probe {
  const reply = 'hello from echo-v1 (10.99.2.2), you are 10.99.1.2\n';
  const identities = { 'src.identity': SLEEP, 'dst.identity': ECHO };
  const outbound: LogLine = {
    'src.addr': '10.99.1.2:40000',
    'dst.addr': '10.99.2.2:15008',
    'dst.hbone_addr': '10.99.2.2:8080',
    'dst.workload': 'echo-v1',
    ...identities,
  };
  const inbound: LogLine = { 'src.workload': 'sleep', 'dst.workload': 'echo-v1', ...identities };
  const common = {
    source_workload: 'sleep',
    destination_workload: 'echo-v1',
    connection_security_policy: 'mutual_tls',
  };
  return {
    command: 'curl -s http://10.99.2.2:8080/',
    exitCode: 0,
    output: reply,
    complaint: '',
    localAddress: '10.99.1.2:40000',
    reply: parseReply(reply),
    answerer: stepOf('mesh', 'sleep', 'echo-v1').destinations[0],
    outbound,
    inbound,
    metrics: new Map([
      ['node-a', counted({ reporter: 'source', ...common })],
      [
        'node-b',
        counted({ reporter: 'destination', ...common, source_principal: SLEEP, destination_principal: ECHO }),
      ],
    ]),
  };
}

const failedChecks = (step: TourStep, probe: Probe): string[] =>
  checkProbe(step, probe)
    .filter((check) => !check.ok)
    .map((check) => check.kind);

describe('netns tour checks', () => {
  const mesh = stepOf('mesh', 'sleep', 'echo-v1');

  it('passes a connection that went through both ztunnels over HBONE with mTLS', () => {
    expect(failedChecks(mesh, meshProbe())).toEqual([]);
    expect(checkProbe(mesh, meshProbe()).map((check) => check.kind)).toEqual([
      'reply',
      'original-source',
      'outbound',
      'inbound',
      'identities',
      'metrics',
    ]);
  });

  const broken: { name: string; change: (probe: Probe) => Probe; failed: string[] }[] = [
    {
      name: 'a connection the caller’s ztunnel never saw (not captured)',
      change: (p) => ({ ...p, outbound: undefined }),
      failed: ['outbound', 'identities'],
    },
    {
      name: 'an app that saw the node instead of the caller',
      change: (p) => ({ ...p, reply: parseReply('hello from echo-v1 (10.99.2.2), you are 10.99.2.1\n') }),
      failed: ['original-source'],
    },
    {
      name: 'plain TCP where HBONE was expected',
      change: (p) => ({
        ...p,
        outbound: { ...p.outbound, 'dst.addr': '10.99.2.2:8080', 'dst.hbone_addr': undefined },
      }),
      failed: ['outbound'],
    },
    {
      name: 'the destination not counting it',
      change: (p) => ({ ...p, metrics: new Map([...p.metrics].filter(([node]) => node !== 'node-b')) }),
      failed: ['metrics'],
    },
    { name: 'curl failing', change: (p) => ({ ...p, exitCode: 7, answerer: undefined }), failed: ['reply'] },
  ];
  for (const testCase of broken) {
    it(`fails ${testCase.name}`, () => {
      expect(failedChecks(mesh, testCase.change(meshProbe()))).toEqual(testCase.failed);
    });
  }

  it('passes a denied connection only when curl failed and the destination logged and counted the denial', () => {
    const step = stepOf('denied', 'sleep', 'reviews');
    const labels = {
      reporter: 'destination',
      response_flags: 'DENY',
      source_workload: 'sleep',
      destination_workload: 'reviews',
    };
    const denied: Probe = {
      ...meshProbe(),
      exitCode: 52,
      output: '',
      complaint: 'curl: (52) Empty reply from server',
      reply: undefined,
      answerer: undefined,
      outbound: { error: 'HBONE peer answered CONNECT 10.99.2.3:8080 with status 401' },
      inbound: { error: 'allow policies exist, but none allowed' },
      metrics: new Map([['node-b', counted(labels)]]),
    };
    expect(failedChecks(step, denied)).toEqual([]);
    expect(failedChecks(step, { ...meshProbe(), metrics: new Map() })).toEqual([
      'refused',
      'outbound',
      'inbound',
      'metrics',
    ]);
  });

  it('passes an outside caller captured only on arrival (15006), without mTLS', () => {
    const step = stepOf('uncaptured-client', 'legacy', 'echo-v1');
    const reply = 'hello from echo-v1 (10.99.2.2), you are 10.99.2.4\n';
    const probe: Probe = {
      ...meshProbe(),
      output: reply,
      reply: parseReply(reply),
      outbound: undefined,
      inbound: { 'dst.addr': '10.99.2.2:8080', 'dst.workload': 'echo-v1' },
      metrics: new Map([
        [
          'node-b',
          counted({
            reporter: 'destination',
            source_workload: 'legacy',
            destination_workload: 'echo-v1',
            connection_security_policy: 'unknown',
          }),
        ],
      ]),
    };
    expect(failedChecks(step, probe)).toEqual([]);
    expect(failedChecks(step, { ...probe, inbound: { ...probe.inbound, 'src.identity': SLEEP } })).toEqual([
      'inbound',
    ]);
  });

  it('requires a VIP to reach every endpoint', () => {
    const vip = stepOf('mesh', 'sleep', 'echo (VIP)');
    const balance = (probes: Probe[]): boolean | undefined =>
      checkStep(vip, probes).find((check) => check.kind === 'load-balancing')?.ok;
    expect(balance([meshProbe(), meshProbe()])).toBe(false);
    const v2: Probe = { ...meshProbe(), answerer: vip.destinations.find((d) => d.name === 'echo-v2') };
    expect(balance([meshProbe(), v2])).toBe(true);
  });
});
