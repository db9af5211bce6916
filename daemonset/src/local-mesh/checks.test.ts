import { describe, expect, it } from 'vitest';
import { greeting, parseReply } from './apps.js';
import { checkProbe, checkStep } from './checks.js';
import type { LogLine } from './log-feed.js';
import { EXAMPLE_MESH_DIR } from './mesh-folder.js';
import { planFolder } from './mesh-plan.js';
import type { Probe } from './probe.js';
import { NOT_ENFORCED } from './authorization-expectation.js';
import { resolveTour, type Destination, type ResolvedStep } from './tour.js';

const STEPS = resolveTour(await planFolder(EXAMPLE_MESH_DIR)).map((resolution) => {
  if (resolution.kind !== 'ready') throw new Error(resolution.reason);
  return resolution.step;
});
const [TO_ECHO, TO_VIP, , TO_REVIEWS_DENIED, TO_LEGACY, TO_OUTSIDE] = STEPS as [
  ResolvedStep,
  ResolvedStep,
  ResolvedStep,
  ResolvedStep,
  ResolvedStep,
  ResolvedStep,
];
const REQUEST = 'ping\n';

function counters(labels: Record<string, string>, requestBytes: number, replyBytes: number): string {
  const set = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  return [
    `istio_tcp_connections_opened_total{${set}} 1`,
    `istio_tcp_connections_closed_total{${set}} 1`,
    `istio_tcp_received_bytes_total{${set}} ${String(requestBytes)}`,
    `istio_tcp_sent_bytes_total{${set}} ${String(replyBytes)}`,
  ].join('\n');
}

/** What a correct ztunnel pair reports for one connection of `step` answered by `answerer` (default: the first). */
function goodProbe(step: ResolvedStep, answerer?: Destination): Probe {
  const destination = answerer ?? step.destinations[0];
  if (!destination) throw new Error(`step ${String(step.number)} has no destination`);
  const reply = greeting(destination.name, destination.ip, step.sourceIp) + REQUEST;
  const requestBytes = Buffer.byteLength(REQUEST);
  const replyBytes = Buffer.byteLength(reply);
  const hbone = destination.path === 'hbone';
  const app = `${destination.ip}:${String(destination.port)}`;
  const identities = hbone
    ? { 'src.identity': step.source.identity, 'dst.identity': destination.workload?.identity }
    : {};
  const outbound: LogLine = {
    message: 'connection complete',
    direction: 'outbound',
    'src.addr': `${step.sourceIp}:40000`,
    'dst.addr': hbone ? `${destination.ip}:15008` : app,
    ...(hbone ? { 'dst.hbone_addr': app } : {}),
    ...(destination.workload ? { 'dst.workload': destination.name } : {}),
    ...identities,
    bytes_sent: requestBytes,
    bytes_recv: replyBytes,
  };
  const inbound: LogLine = {
    message: 'connection complete',
    direction: 'inbound',
    'src.addr': `${step.sourceIp}:40001`,
    'src.workload': step.source.name,
    'dst.addr': `${destination.ip}:15008`,
    'dst.hbone_addr': app,
    'dst.workload': destination.name,
    ...identities,
    bytes_sent: replyBytes,
    bytes_recv: requestBytes,
  };
  const common = {
    source_workload: step.source.name,
    destination_workload: destination.workload?.name ?? 'unknown',
    connection_security_policy: hbone ? 'mutual_tls' : 'unknown',
  };
  return {
    request: REQUEST,
    requestBytes,
    reply,
    replyBytes,
    parsedReply: parseReply(reply),
    answerer: destination,
    destination,
    error: undefined,
    socksReply: undefined,
    outbound,
    inbound: hbone ? inbound : undefined,
    sourceMetrics: {
      node: step.sourceNode.name,
      before: '',
      after: counters({ reporter: 'source', ...common }, requestBytes, replyBytes),
    },
    destinationMetrics: hbone
      ? {
          node: destination.node?.name ?? '',
          before: '',
          after: counters(
            {
              reporter: 'destination',
              ...common,
              source_principal: step.source.identity,
              destination_principal: destination.workload?.identity ?? '',
            },
            requestBytes,
            replyBytes,
          ),
        }
      : undefined,
  };
}

/** What a correct ztunnel pair reports for one connection of `step` that the destination's policies deny. */
function deniedProbe(step: ResolvedStep): Probe {
  const destination = step.destinations[0];
  if (!destination || destination.authorization.allowed) throw new Error('the step is not denied');
  const app = `${destination.ip}:${String(destination.port)}`;
  const identities = { 'src.identity': step.source.identity, 'dst.identity': destination.workload?.identity };
  const common = {
    source_workload: step.source.name,
    destination_workload: destination.name,
    connection_security_policy: 'mutual_tls',
  };
  const set = (labels: Record<string, string>): string =>
    Object.entries(labels)
      .map(([key, value]) => `${key}="${value}"`)
      .join(',');
  const source = { reporter: 'source', ...common };
  const target = { reporter: 'destination', ...common };
  return {
    request: REQUEST,
    requestBytes: Buffer.byteLength(REQUEST),
    reply: undefined,
    replyBytes: 0,
    parsedReply: undefined,
    answerer: undefined,
    destination,
    error: 'SOCKS5 reply 5',
    socksReply: 5,
    outbound: {
      message: 'connection complete',
      direction: 'outbound',
      'src.addr': `${step.sourceIp}:40000`,
      'dst.addr': `${destination.ip}:15008`,
      'dst.hbone_addr': app,
      'dst.workload': destination.name,
      ...identities,
      error: `HBONE peer answered CONNECT ${app} with status 401`,
    },
    inbound: {
      message: 'connection complete',
      direction: 'inbound',
      'src.addr': `${step.sourceIp}:40001`,
      'src.workload': step.source.name,
      'dst.addr': `${destination.ip}:15008`,
      'dst.hbone_addr': app,
      'dst.workload': destination.name,
      ...identities,
      error: destination.authorization.message,
    },
    sourceMetrics: {
      node: step.sourceNode.name,
      before: '',
      after: [
        `istio_tcp_connections_opened_total{${set({ ...source, response_flags: '-' })}} 1`,
        `istio_tcp_connections_closed_total{${set({ ...source, response_flags: 'CONNECT' })}} 1`,
        `istio_tcp_connections_failed_total{${set({ ...source, response_flags: 'CONNECT' })}} 1`,
      ].join('\n'),
    },
    destinationMetrics: {
      node: destination.node?.name ?? '',
      before: '',
      after: [
        `istio_tcp_connections_opened_total{${set({ ...target, response_flags: '-' })}} 1`,
        `istio_tcp_connections_closed_total{${set({ ...target, response_flags: 'DENY' })}} 1`,
        `istio_tcp_connections_failed_total{${set({ ...target, response_flags: 'DENY' })}} 1`,
      ].join('\n'),
    },
  };
}

function failedKinds(step: ResolvedStep, probe: Probe): string[] {
  return checkProbe(step, probe)
    .filter((check) => !check.ok)
    .map((check) => check.kind);
}

const withLine = (line: LogLine | undefined, change: Record<string, unknown>): LogLine => ({
  ...line,
  ...change,
});

describe('checkProbe', () => {
  it.each([
    [
      'HBONE to a pod',
      TO_ECHO,
      ['reply', 'original-source', 'outbound', 'inbound', 'identities', 'bytes', 'metrics'],
    ],
    [
      'plain TCP to a workload outside the mesh',
      TO_LEGACY,
      ['reply', 'outbound', 'identities', 'bytes', 'metrics'],
    ],
    ['passthrough', TO_OUTSIDE, ['reply', 'outbound', 'identities', 'bytes', 'metrics']],
  ])('passes a correct %s connection, checking %j', (_name, step, kinds) => {
    const checks = checkProbe(step, goodProbe(step));
    expect(checks.map((c) => c.kind)).toEqual(kinds);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  });

  const good = goodProbe(TO_ECHO);
  it.each<[string, Probe, string[]]>([
    [
      'no answer at all',
      { ...good, reply: undefined, parsedReply: undefined, answerer: undefined, error: 'SOCKS5 reply 5' },
      ['reply'],
    ],
    [
      'an echo that differs',
      { ...good, parsedReply: { ...(good.parsedReply ?? { name: '', ip: '', peerIp: '' }), echo: 'pong\n' } },
      ['reply'],
    ],
    [
      'the app saw the node, not the pod',
      {
        ...good,
        parsedReply: { ...(good.parsedReply ?? { name: '', ip: '', echo: '' }), peerIp: '127.0.0.11' },
      },
      ['original-source'],
    ],
    [
      'plain TCP where HBONE was due',
      {
        ...good,
        outbound: withLine(good.outbound, { 'dst.hbone_addr': undefined, 'dst.addr': '127.0.2.1:8080' }),
      },
      ['outbound'],
    ],
    [
      'an error on the outbound line',
      { ...good, outbound: withLine(good.outbound, { error: 'boom' }) },
      ['outbound'],
    ],
    ['no inbound line', { ...good, inbound: undefined }, ['inbound', 'identities', 'bytes']],
    [
      'another source identity inbound',
      {
        ...good,
        inbound: withLine(good.inbound, { 'src.identity': 'spiffe://cluster.local/ns/default/sa/evil' }),
      },
      ['identities'],
    ],
    [
      'a byte lost on the way out',
      { ...good, outbound: withLine(good.outbound, { bytes_sent: good.requestBytes - 1 }) },
      ['bytes'],
    ],
    [
      'inbound bytes counted the wrong way round',
      {
        ...good,
        inbound: withLine(good.inbound, { bytes_sent: good.requestBytes, bytes_recv: good.replyBytes }),
      },
      ['bytes'],
    ],
    ['no destination metrics', { ...good, destinationMetrics: undefined }, ['metrics']],
    [
      'destination metrics without mTLS',
      {
        ...good,
        destinationMetrics: {
          node: 'node-b',
          before: '',
          after: (good.destinationMetrics?.after ?? '').replaceAll('mutual_tls', 'unknown'),
        },
      },
      ['metrics'],
    ],
    [
      'a connection counted twice',
      {
        ...good,
        sourceMetrics: {
          node: 'node-a',
          before: '',
          after: `${good.sourceMetrics?.after ?? ''}\n${good.sourceMetrics?.after ?? ''}`,
        },
      },
      ['metrics'],
    ],
  ])('fails %s', (_name, probe, kinds) => {
    expect(failedKinds(TO_ECHO, probe)).toEqual(kinds);
  });

  it('fails identities logged on a path without mTLS', () => {
    const probe = goodProbe(TO_LEGACY);
    const outbound = withLine(probe.outbound, { 'src.identity': TO_LEGACY.source.identity });
    expect(failedKinds(TO_LEGACY, { ...probe, outbound })).toEqual(['identities']);
  });

  it('fails a passthrough that the ztunnel took for a workload', () => {
    const probe = goodProbe(TO_OUTSIDE);
    expect(
      failedKinds(TO_OUTSIDE, { ...probe, outbound: withLine(probe.outbound, { 'dst.workload': 'legacy' }) }),
    ).toEqual(['outbound']);
  });
});

describe('checkProbe of a connection the policies in force deny', () => {
  const denied = deniedProbe(TO_REVIEWS_DENIED);

  it('passes a refusal with 401, the reason in the access log and DENY in the metrics', () => {
    const checks = checkProbe(TO_REVIEWS_DENIED, denied);
    expect(checks.map((c) => c.kind)).toEqual(['refused', 'outbound', 'inbound', 'identities', 'metrics']);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.find((c) => c.kind === 'inbound')?.text).toBe(
      'node-b inbound: denied sleep → reviews, access log error "allow policies exist, but none allowed" (policy default/reviews-callers)',
    );
  });

  const answered = goodProbe({
    ...TO_REVIEWS_DENIED,
    destinations: TO_REVIEWS_DENIED.destinations.map((d) => ({ ...d, authorization: NOT_ENFORCED })),
  });
  it.each<[string, Probe, string[]]>([
    [
      'a connection that got through',
      { ...answered, destination: denied.destination, answerer: denied.destination },
      ['refused', 'outbound', 'inbound', 'metrics'],
    ],
    [
      'another reason in the access log',
      { ...denied, inbound: withLine(denied.inbound, { error: 'explicitly denied by: default/other' }) },
      ['inbound'],
    ],
    [
      'a CONNECT answered otherwise',
      { ...denied, outbound: withLine(denied.outbound, { error: 'connection reset' }) },
      ['outbound'],
    ],
    [
      'no DENY flag at the destination',
      {
        ...denied,
        destinationMetrics: {
          node: 'node-b',
          before: '',
          after: (denied.destinationMetrics?.after ?? '').replaceAll('DENY', '-'),
        },
      },
      ['metrics'],
    ],
    ['no inbound access line', { ...denied, inbound: undefined }, ['inbound']],
  ])('fails %s', (_name, probe, kinds) => {
    expect(failedKinds(TO_REVIEWS_DENIED, probe)).toEqual(kinds);
  });

  it('says which policies were checked when an allowed connection is refused', () => {
    const refused = { ...deniedProbe(TO_REVIEWS_DENIED), destination: TO_ECHO.destinations[0] };
    const [reply] = checkProbe(TO_ECHO, refused);
    expect(reply).toMatchObject({ kind: 'reply', ok: false });
    expect(reply?.text).toContain('(the policies in force say allowed: no allow policies apply)');
  });
});

describe('checkStep', () => {
  const [v1, v2] = TO_VIP.destinations as [Destination, Destination];

  it('prints repeated checks once with a count, different outcomes of a kind together', () => {
    const lines = checkStep(TO_VIP, [goodProbe(TO_VIP, v1), goodProbe(TO_VIP, v2), goodProbe(TO_VIP, v1)]);
    expect(lines.every((line) => line.ok)).toBe(true);
    expect(lines.map((line) => [line.kind, line.count])).toEqual([
      ['reply', 2],
      ['reply', 1],
      ['original-source', 2],
      ['original-source', 1],
      ['outbound', 2],
      ['outbound', 1],
      ['inbound', 2],
      ['inbound', 1],
      ['identities', 3],
      ['bytes', 3],
      ['metrics', 3],
      ['load-balancing', 1],
    ]);
  });

  it('fails load balancing when one endpoint never answered', () => {
    const lines = checkStep(TO_VIP, [goodProbe(TO_VIP, v1), goodProbe(TO_VIP, v1)]);
    expect(lines.filter((line) => !line.ok).map((line) => line.text)).toEqual([
      'load balancing: echo-v2 never answered in 2 connections (echo-v1 ×2)',
    ]);
  });
});
