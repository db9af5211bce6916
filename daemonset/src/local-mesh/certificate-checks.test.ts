import { createHash, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TestPki } from '@ambient/testing';
import {
  checkCertificates,
  describeRoot,
  parseCertificateRows,
  requestCounts,
  type CertificateRow,
  type NodeCertificates,
} from './certificate-checks.js';
import type { LogLine } from './log-feed.js';
import { EXAMPLE_MESH_DIR } from './mesh-folder.js';
import { planFolder, type NodePlan } from './mesh-plan.js';

const [NODE_A] = (await planFolder(EXAMPLE_MESH_DIR)).nodes as [NodePlan, NodePlan];
const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';
const PRODUCTPAGE = 'spiffe://cluster.local/ns/default/sa/productpage';
const SERIALS: Record<string, string> = {
  [SLEEP]: '49b897d6bbec88f14990cb0be57d1bc3',
  [PRODUCTPAGE]: '7d90f97909cc4a0e049841218fa83ed7',
};

function row(identity: string, overrides: Partial<CertificateRow> = {}): CertificateRow {
  return {
    identity,
    state: 'Available',
    serialNumber: SERIALS[identity],
    validFrom: '2026-11-22T06:23:17.000Z',
    expirationTime: '2026-11-23T06:24:17.000Z',
    ...overrides,
  };
}

function issuedLine(identity: string, overrides: Partial<Record<string, string>> = {}): LogLine {
  return {
    message: 'certificate issued',
    caller: 'ztunnel-node-a',
    identity,
    serial: SERIALS[identity],
    ...overrides,
  };
}

/** What a healthy node-a and CA report: both identities Available, each issued to node-a's ztunnel. */
function good(): NodeCertificates {
  return {
    node: NODE_A,
    rows: [row(SLEEP), row(PRODUCTPAGE)],
    requests: { success: 2, failure: 0 },
    error: undefined,
    issued: new Map([
      [SERIALS[SLEEP] ?? '', issuedLine(SLEEP)],
      [SERIALS[PRODUCTPAGE] ?? '', issuedLine(PRODUCTPAGE)],
    ]),
  };
}

function failedKinds(observed: NodeCertificates): string[] {
  return checkCertificates(observed)
    .filter((check) => !check.ok)
    .map((check) => check.kind);
}

describe('checkCertificates', () => {
  it('passes a node whose every mesh identity has its own Available certificate from the CA', () => {
    expect(checkCertificates(good()).map((check) => [check.kind, check.ok, check.text])).toEqual([
      [
        'certificates',
        true,
        'node-a: an Available certificate for each of its 2 mesh identities, 2 different serials',
      ],
      ['issuer', true, "node-a: the CA's log shows it issued each of them to ztunnel-node-a"],
      ['requests', true, 'node-a: istio_ztunnel_certificate_requests_total: 2 successful, 0 failed'],
    ]);
  });

  const sleepSerial = SERIALS[SLEEP] ?? '';
  it.each<[string, (o: NodeCertificates) => NodeCertificates, string[], string]>([
    [
      'an identity without a certificate',
      (o) => ({ ...o, rows: [row(SLEEP)] }),
      ['certificates'],
      'none for default/sa/productpage',
    ],
    [
      'a certificate still being requested',
      (o) => ({
        ...o,
        rows: [row(SLEEP), row(PRODUCTPAGE, { state: 'Initializing', serialNumber: undefined })],
      }),
      ['certificates'],
      'default/sa/productpage is Initializing',
    ],
    [
      'two identities sharing one certificate',
      (o) => ({ ...o, rows: [row(SLEEP), row(PRODUCTPAGE, { serialNumber: sleepSerial.toUpperCase() })] }),
      // The CA logged that serial for sleep alone.
      ['certificates', 'issuer'],
      `default/sa/productpage and default/sa/sleep share serial ${sleepSerial}`,
    ],
    [
      'an unreadable /config_dump',
      (o) => ({ ...o, rows: undefined, error: '/config_dump: fetch failed' }),
      ['certificates', 'issuer'],
      '/config_dump: fetch failed',
    ],
    [
      'a serial the CA never logged',
      (o) => ({ ...o, issued: new Map([...o.issued].filter(([serial]) => serial !== sleepSerial)) }),
      ['issuer'],
      `${sleepSerial} (default/sa/sleep) is not in its log`,
    ],
    [
      "a certificate the CA issued to another node's ztunnel",
      (o) => ({
        ...o,
        issued: new Map([...o.issued, [sleepSerial, issuedLine(SLEEP, { caller: 'ztunnel-node-b' })]]),
      }),
      ['issuer'],
      'was issued to ztunnel-node-b',
    ],
    [
      'a certificate the CA issued for another identity',
      (o) => ({
        ...o,
        issued: new Map([...o.issued, [sleepSerial, issuedLine(SLEEP, { identity: PRODUCTPAGE })]]),
      }),
      ['issuer'],
      `was issued for ${PRODUCTPAGE}`,
    ],
    [
      'a failed request',
      (o) => ({ ...o, requests: { success: 2, failure: 1 } }),
      ['requests'],
      'expected at least 2 successful and none failed; 2 successful, 1 failed',
    ],
    [
      'fewer successes than identities',
      (o) => ({ ...o, requests: { success: 1, failure: 0 } }),
      ['requests'],
      '1 successful, 0 failed',
    ],
    [
      'no request counter',
      (o) => ({ ...o, requests: undefined }),
      ['requests'],
      'istio_ztunnel_certificate_requests_total is missing from its metrics',
    ],
  ])('fails %s', (_name, spoil, kinds, words) => {
    const observed = spoil(good());
    expect(failedKinds(observed)).toEqual(kinds);
    const texts = checkCertificates(observed)
      .filter((check) => !check.ok)
      .map((check) => check.text);
    expect(texts.join('\n')).toContain(words);
  });

  it('passes more successful requests than identities (a refresh while the mesh runs)', () => {
    expect(failedKinds({ ...good(), requests: { success: 5, failure: 0 } })).toEqual([]);
  });

  it('owes nothing for a node without mesh workloads, as long as its /config_dump answers', () => {
    const idle: NodeCertificates = {
      ...good(),
      node: { ...NODE_A, meshIdentities: [] },
      rows: [],
      issued: new Map(),
      requests: { success: 0, failure: 0 },
    };
    expect(failedKinds(idle)).toEqual([]);
    expect(failedKinds({ ...idle, rows: undefined })).toEqual(['certificates']);
  });
});

describe('parseCertificateRows', () => {
  it("reads ztunnel's rows and keeps a row without a certificate yet", () => {
    const dump = {
      config: {},
      certificates: [
        { identity: SLEEP, state: 'Available', serialNumber: 'ab', validFrom: 'x', expirationTime: 'y' },
        { identity: PRODUCTPAGE, state: 'Initializing' },
        { state: 'Available' },
        'nonsense',
      ],
    };
    expect(parseCertificateRows(dump)).toEqual([
      { identity: SLEEP, state: 'Available', serialNumber: 'ab', validFrom: 'x', expirationTime: 'y' },
      {
        identity: PRODUCTPAGE,
        state: 'Initializing',
        serialNumber: undefined,
        validFrom: undefined,
        expirationTime: undefined,
      },
    ]);
  });

  it.each([[null], [[]], [{}], [{ certificates: 'none' }]])('reads no rows from %j', (dump) => {
    expect(parseCertificateRows(dump)).toEqual([]);
  });
});

describe('requestCounts', () => {
  it('sums the counter by result', () => {
    const text = [
      '# TYPE istio_ztunnel_certificate_requests_total counter',
      'istio_ztunnel_certificate_requests_total{result="success"} 4',
      'istio_ztunnel_certificate_requests_total{result="failure"} 1',
      'istio_tcp_connections_opened_total{result="success"} 9',
    ].join('\n');
    expect(requestCounts(text)).toEqual({ success: 4, failure: 1 });
  });

  it('says when the ztunnel has no such counter', () => {
    expect(requestCounts('istio_build{component="ztunnel"} 1\n')).toBeUndefined();
  });
});

describe('describeRoot', () => {
  it("names the root by its subject and the SHA-256 of its DER, as openssl's -fingerprint prints it", async () => {
    const pki = await TestPki.create();
    const der = new X509Certificate(pki.rootCertPem).raw;
    const expected = (createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g) ?? []).join(
      ':',
    );
    const root = describeRoot(pki.rootCertPem);
    expect(root.fingerprint256).toBe(expected);
    expect(root.subject).toMatch(/^O=cluster\.local, CN=Test Root CA [0-9a-f]+$/);
  });
});
