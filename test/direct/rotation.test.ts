import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, socks5Connect, startEchoServer, TestCaServer, type EchoServer } from '@ambient/testing';
import { eventually, LoopbackMesh, meshWorkload, sampleSum, type LogCapture } from './harness.js';

// Addresses of this file: CA 127.28.0.9, nodes 127.28.0.x, pods 127.28.1.x (node-a) and 127.28.2.x (node-b).
const NODE_A = '127.28.0.1';
const NODE_B = '127.28.0.2';
const CLIENT = '127.28.1.1';
const ECHO = '127.28.2.1';
/** Short-lived certificates so rotations happen within the test: refresh comes at half-life. */
const CERT_TTL_SECONDS = 3;
const LOAD_DURATION_MS = 7_000;

interface CertificateRow {
  identity: string;
  state: string;
  serialNumber?: string;
}

describe('certificates from a CA, rotated under load without a failed connection', () => {
  let mesh: LoopbackMesh;
  let ca: TestCaServer;
  let echo: EchoServer;
  let a: { logs: LogCapture };
  let b: { logs: LogCapture };

  beforeAll(async () => {
    mesh = await LoopbackMesh.create({
      workloads: [meshWorkload('client', CLIENT, 'node-a'), meshWorkload('echo', ECHO, 'node-b')],
    });
    ca = await TestCaServer.start({ pki: mesh.pki, host: '127.28.0.9' });
    ca.behaviour = { ttlSeconds: CERT_TTL_SECONDS };
    const caRoot = join(mesh.dir, 'ca-root.pem');
    await writeFile(caRoot, ca.rootCertPem);
    const caEnv = { CA_ADDRESS: ca.address, CA_ROOT_CA: caRoot, ALT_CA_HOSTNAME: ca.serverName };
    echo = await startEchoServer(ECHO, 6000);
    a = await mesh.startZtunnel('node-a', NODE_A, caEnv);
    b = await mesh.startZtunnel('node-b', NODE_B, caEnv);
  });

  afterAll(async () => {
    await mesh.close();
    ca.close();
    await echo.close();
  });

  const open = () =>
    socks5Connect({
      proxyIp: NODE_A,
      proxyPort: 15080,
      sourceIp: CLIENT,
      targetHost: ECHO,
      targetPort: 6000,
    });

  const serials = async (node: string): Promise<Map<string, string | undefined>> => {
    const dump = (await (await fetch(`http://${node}:15000/config_dump`)).json()) as {
      certificates: CertificateRow[];
    };
    return new Map(dump.certificates.map((c) => [c.identity, c.serialNumber]));
  };

  it('issues each node’s identities through the CA, impersonating them', async () => {
    const requested = new Set(ca.requests.map((r) => r.csrIdentity));
    expect(requested).toEqual(
      new Set(['spiffe://cluster.local/ns/default/sa/client', 'spiffe://cluster.local/ns/default/sa/echo']),
    );
    expect(ca.requests.every((r) => r.metadata?.ImpersonatedIdentity === r.csrIdentity)).toBe(true);
    const text = await (await fetch(`http://${NODE_B}:15020/metrics`)).text();
    expect(
      sampleSum(text, 'istio_ztunnel_certificate_requests_total', { result: 'success' }),
    ).toBeGreaterThan(0);
  });

  it('keeps a long-lived tunnel and every new connection working through several rotations', async () => {
    const before = { a: await serials(NODE_A), b: await serials(NODE_B) };
    const longLived = await open();
    const chunks: Buffer[] = [];
    longLived.on('data', (c: Buffer) => chunks.push(c));
    longLived.resume();

    let made = 0;
    const failures: string[] = [];
    const deadline = Date.now() + LOAD_DURATION_MS;
    let tick = 0;
    while (Date.now() < deadline) {
      try {
        const reply = await exchange(await open(), `connection ${String(made)}`);
        if (reply.toString() !== `connection ${String(made)}`)
          failures.push(`wrong reply ${reply.toString()}`);
      } catch (err) {
        failures.push(String(err));
      }
      made++;
      if (made % 20 === 0) longLived.write(`tick ${String(tick++)};`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    longLived.end('done');
    await new Promise((resolve) => longLived.on('end', resolve));

    expect(failures).toEqual([]);
    expect(made).toBeGreaterThan(50);
    const expected = Array.from({ length: tick }, (_v, i) => `tick ${String(i)};`).join('') + 'done';
    expect(Buffer.concat(chunks).toString()).toBe(expected);

    // Both sides really rotated: new serials in config_dump, rotation log lines, retired pool sessions.
    const after = { a: await serials(NODE_A), b: await serials(NODE_B) };
    expect(after.a.get('spiffe://cluster.local/ns/default/sa/client')).not.toBe(
      before.a.get('spiffe://cluster.local/ns/default/sa/client'),
    );
    expect(after.b.get('spiffe://cluster.local/ns/default/sa/echo')).not.toBe(
      before.b.get('spiffe://cluster.local/ns/default/sa/echo'),
    );
    expect(a.logs.withMessage('certificate rotated').length).toBeGreaterThanOrEqual(2);
    expect(b.logs.withMessage('certificate rotated').length).toBeGreaterThanOrEqual(2);
    await eventually(async () => {
      const text = await (await fetch(`http://${NODE_B}:15020/metrics`)).text();
      expect(sampleSum(text, 'istio_tcp_connections_failed_total', {})).toBe(0);
    });
  });
});
