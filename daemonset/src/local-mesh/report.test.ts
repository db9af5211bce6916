import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { NOT_ENFORCED } from './authorization-expectation.js';
import type { NodeCertificates } from './certificate-checks.js';
import { EXAMPLE_MESH_DIR } from './mesh-folder.js';
import { planFolder } from './mesh-plan.js';
import type { Probe } from './probe.js';
import {
  formatCertificates,
  formatDenyExcerpt,
  formatEndpoints,
  formatMeshOverview,
  stepRow,
} from './report.js';
import { resolveTour } from './tour.js';

const PLAN = await planFolder(EXAMPLE_MESH_DIR);
const [NODE_A, NODE_B] = PLAN.nodes;
const ROOT = { subject: 'O=cluster.local', fingerprint256: 'AB:CD' };

function plain(lines: string[]): string[] {
  return lines.map((line) => stripVTControlCharacters(line));
}

describe('formatCertificates', () => {
  it("shows the CA's root, then each node's certificate per mesh identity, and says which one is missing", () => {
    if (!NODE_A || !NODE_B) throw new Error('the example has two nodes');
    const observed: NodeCertificates[] = [
      {
        node: NODE_A,
        rows: [
          {
            identity: 'spiffe://cluster.local/ns/default/sa/productpage',
            state: 'Available',
            serialNumber: '7d90',
            validFrom: '2026-11-22T06:23:17.000Z',
            expirationTime: '2026-11-23T06:24:17.000Z',
          },
          {
            identity: 'spiffe://cluster.local/ns/default/sa/sleep',
            state: 'Initializing',
            serialNumber: undefined,
            validFrom: undefined,
            expirationTime: undefined,
          },
        ],
        requests: undefined,
        error: undefined,
        issued: new Map(),
      },
      { node: NODE_B, rows: undefined, requests: undefined, error: 'down', issued: new Map() },
    ];
    expect(plain(formatCertificates(observed, '127.0.0.10:15012', ROOT))).toEqual([
      '  CA 127.0.0.10:15012  root O=cluster.local, SHA-256 AB:CD',
      '  node-a  default/sa/productpage  Available       serial 7d90  expires 2026-11-23 06:24:17Z',
      '          default/sa/sleep        Initializing    serial -     expires -',
      '  node-b  default/sa/echo         no certificate',
      '          default/sa/reviews      no certificate',
    ]);
    expect(plain(formatCertificates([], '127.0.0.10:15012', undefined))).toEqual([
      '  CA 127.0.0.10:15012  root certificate unreadable',
    ]);
  });
});

describe('formatEndpoints', () => {
  it("lists the control plane first, then each ztunnel's endpoints, the name columns equally wide", () => {
    const lines = plain(
      formatEndpoints(PLAN, { address: '127.0.0.10:15012', rootCertPath: '/tmp/x/root-cert.pem' }),
    );
    expect(lines[0]).toBe(
      '  control plane  https://127.0.0.10:15012  gRPC: Delta xDS and istio.v1.auth.IstioCertificateService  root /tmp/x/root-cert.pem',
    );
    expect(lines[1]).toMatch(/^ {2}node-a {9}http:\/\/127\.0\.0\.11:15020\/metrics {2}/);
    expect(lines).toHaveLength(3);
  });
});

describe('formatMeshOverview', () => {
  it('shows the control plane, each node with its pods, the service and the policy', () => {
    const lines = plain(formatMeshOverview(PLAN, '127.0.0.10:15012', ['/tmp/x/node-a.log']));
    expect(lines[0]).toMatch(
      /^ {2}control plane +CA \+ xDS 127\.0\.0\.10:15012 +serves .*mesh to the ztunnels/,
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}node-b +ztunnel 127\.0\.0\.12 +echo-v1 127\.0\.2\.1, /),
    );
    expect(lines).toContainEqual(expect.stringContaining('legacy 127.0.2.9 (not in the mesh)'));
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^ {2}policy +default\/reviews-callers +ALLOW on reviews: from cluster\.local\/ns\/default\/sa\/productpage$/,
      ),
    );
  });
});

describe('stepRow', () => {
  it('shows a step the policies deny as denied (401), with the reason the destination logged', () => {
    const resolution = resolveTour(PLAN)[3];
    if (resolution?.kind !== 'ready') throw new Error('step 4 resolves');
    const step = resolution.step;
    const [destination] = step.destinations;
    if (!destination) throw new Error('step 4 has a destination');
    const probe: Probe = {
      request: 'ping\n',
      requestBytes: 5,
      reply: undefined,
      replyBytes: 0,
      parsedReply: undefined,
      answerer: undefined,
      destination,
      error: 'SOCKS5 reply 5',
      socksReply: 5,
      outbound: {
        'src.identity': step.source.identity,
        'dst.identity': destination.workload?.identity,
        'dst.hbone_addr': '127.0.2.2:8080',
        error: 'HBONE peer answered CONNECT 127.0.2.2:8080 with status 401',
      },
      inbound: {
        'src.identity': step.source.identity,
        'dst.identity': destination.workload?.identity,
        error: 'allow policies exist, but none allowed',
      },
      sourceMetrics: undefined,
      destinationMetrics: undefined,
    };
    expect(stepRow(step, [probe])).toEqual([
      '4',
      'sleep',
      'reviews 127.0.2.2:8080',
      'denied (401)',
      'default/sa/sleep → default/sa/reviews',
      '-',
      'nobody: allow policies exist, but none allowed',
    ]);
    // The same refusal where the policies allow the step is a failure, and says so.
    const allowed: Probe = { ...probe, destination: { ...destination, authorization: NOT_ENFORCED } };
    expect(stepRow(step, [allowed]).at(-1)).toBe('failed: SOCKS5 reply 5');
  });
});

describe('formatDenyExcerpt', () => {
  it("lists the destination's DENY counters, trimmed to the labels that tell them apart", () => {
    const text = [
      'istio_tcp_connections_failed_total{reporter="destination",source_workload="sleep",destination_workload="reviews",response_flags="DENY",connection_security_policy="mutual_tls"} 2',
      'istio_tcp_connections_failed_total{reporter="source",source_workload="sleep",destination_workload="reviews",response_flags="CONNECT"} 2',
      'istio_tcp_connections_failed_total{reporter="destination",source_workload="sleep",destination_workload="echo",response_flags="CONNECT"} 1',
    ].join('\n');
    expect(formatDenyExcerpt(text)).toEqual([
      '  {reporter="destination",source_workload="sleep",destination_workload="reviews",response_flags="DENY"} 2',
    ]);
  });
});
