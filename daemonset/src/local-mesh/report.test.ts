import { readFileSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { NodeCertificates } from './certificate-checks.js';
import { planMeshText } from './mesh-plan.js';
import { formatCertificates, formatEndpoints } from './report.js';

const EXAMPLE = readFileSync(new URL('../../../examples/local-mesh.yaml', import.meta.url), 'utf8');
const PLAN = planMeshText(EXAMPLE, 'mesh.yaml');
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
      '  node-a  default/sa/sleep        Initializing    serial -     expires -',
      '          default/sa/productpage  Available       serial 7d90  expires 2026-11-23 06:24:17Z',
      '  node-b  default/sa/echo         no certificate',
      '          default/sa/reviews      no certificate',
    ]);
    expect(plain(formatCertificates([], '127.0.0.10:15012', undefined))).toEqual([
      '  CA 127.0.0.10:15012  root certificate unreadable',
    ]);
  });
});

describe('formatEndpoints', () => {
  it("lists the CA first, then each ztunnel's endpoints, the name columns equally wide", () => {
    const lines = plain(
      formatEndpoints(PLAN, { address: '127.0.0.10:15012', rootCertPath: '/tmp/x/root-cert.pem' }),
    );
    expect(lines[0]).toBe(
      '  CA      https://127.0.0.10:15012  gRPC istio.v1.auth.IstioCertificateService  root /tmp/x/root-cert.pem',
    );
    expect(lines[1]).toMatch(/^ {2}node-a {2}http:\/\/127\.0\.0\.11:15020\/metrics {2}/);
    expect(lines).toHaveLength(3);
  });
});
