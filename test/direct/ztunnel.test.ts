import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, socks5Connect, startEchoServer, type EchoServer } from '@ambient/testing';
import type { Ztunnel } from '@ambient/ztunnel';
import { eventually, httpGet, LoopbackMesh, sampleSum, type LogCapture } from './harness.js';

// Addresses of this file: nodes 127.20.0.x, pods 127.20.1.x (node-a) and 127.20.2.x (node-b), VIP 127.20.10.1.
const NODE_A = '127.20.0.1';
const NODE_B = '127.20.0.2';
const SLEEP = '127.20.1.1';
const ECHO = '127.20.2.1';
const ECHO_2 = '127.20.2.2';
const LEGACY = '127.20.2.9';
const OUTSIDE = '127.20.3.1';
const VIP = '127.20.10.1';
const APP_PORT = 8080;

describe('ztunnel on loopback: SOCKS5 → HBONE → app', () => {
  let mesh: LoopbackMesh;
  let a: { ztunnel: Ztunnel; logs: LogCapture };
  let b: { ztunnel: Ztunnel; logs: LogCapture };
  const servers: EchoServer[] = [];

  beforeAll(async () => {
    mesh = await LoopbackMesh.create({
      workloads: [
        { name: 'sleep', serviceAccount: 'sleep', workloadIps: [SLEEP], protocol: 'HBONE', node: 'node-a' },
        {
          name: 'echo-1',
          serviceAccount: 'echo',
          workloadIps: [ECHO],
          protocol: 'HBONE',
          node: 'node-b',
          services: { 'default/echo.default.svc.cluster.local': { 80: APP_PORT } },
        },
        {
          name: 'echo-2',
          serviceAccount: 'echo',
          workloadIps: [ECHO_2],
          protocol: 'HBONE',
          node: 'node-b',
          services: { 'default/echo.default.svc.cluster.local': { 80: APP_PORT } },
        },
        { name: 'legacy', serviceAccount: 'legacy', workloadIps: [LEGACY], protocol: 'TCP', node: 'node-b' },
      ],
      services: [
        {
          name: 'echo',
          hostname: 'echo.default.svc.cluster.local',
          vips: [`/${VIP}`],
          ports: { 80: APP_PORT },
        },
      ],
    });
    for (const ip of [ECHO, ECHO_2, LEGACY, OUTSIDE])
      servers.push(await startEchoServer(ip, APP_PORT, `${ip}|`));
    a = await mesh.startZtunnel('node-a', NODE_A);
    b = await mesh.startZtunnel('node-b', NODE_B);
  });

  afterAll(async () => {
    await mesh.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  const viaSocks = (targetHost: string, targetPort = APP_PORT) =>
    socks5Connect({ proxyIp: NODE_A, proxyPort: 15080, sourceIp: SLEEP, targetHost, targetPort });

  it('carries bytes to a mesh workload over HBONE and records both ends exactly', async () => {
    const socket = await viaSocks(ECHO);
    const reply = await exchange(socket, 'hello');
    expect(reply.toString()).toBe(`${ECHO}|hello`);
    // The app sees the caller's pod IP, as with ztunnel's original-source mode.
    expect(servers[0]?.peers.at(-1)).toBe(SLEEP);

    const labels = {
      source_principal: 'spiffe://cluster.local/ns/default/sa/sleep',
      destination_principal: 'spiffe://cluster.local/ns/default/sa/echo',
      destination_workload: 'echo-1',
      connection_security_policy: 'mutual_tls',
    };
    await eventually(async () => {
      const src = await (await fetch(`http://${NODE_A}:15020/metrics`)).text();
      const dst = await (await fetch(`http://${NODE_B}:15020/stats/prometheus`)).text();
      for (const [text, reporter] of [
        [src, 'source'],
        [dst, 'destination'],
      ] as const) {
        const l = { ...labels, reporter };
        expect(sampleSum(text, 'istio_tcp_connections_opened_total', l)).toBe(1);
        expect(sampleSum(text, 'istio_tcp_connections_closed_total', l)).toBe(1);
        // Istio's convention on both reporters: received = client→server, sent = server→client.
        expect(sampleSum(text, 'istio_tcp_received_bytes_total', l)).toBe(5);
        expect(sampleSum(text, 'istio_tcp_sent_bytes_total', l)).toBe(`${ECHO}|hello`.length);
      }
    });
    expect(a.logs.withMessage('connection complete').at(-1)).toMatchObject({
      direction: 'outbound',
      'dst.addr': `${ECHO}:15008`,
      bytes_sent: 5,
    });
    const access = b.logs.withMessage('connection complete');
    expect(access.at(-1)).toMatchObject({
      'src.identity': 'spiffe://cluster.local/ns/default/sa/sleep',
      'dst.hbone_addr': `${ECHO}:${String(APP_PORT)}`,
      direction: 'inbound',
    });
  });

  it('load-balances a service VIP over its endpoints, each through HBONE', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 2; i++) {
      const reply = (await exchange(await viaSocks(VIP, 80), 'x')).toString();
      seen.add(reply.split('|')[0] ?? '');
    }
    expect(seen).toEqual(new Set([ECHO, ECHO_2]));
  });

  it('sends plain TCP to a workload outside the mesh and passes unknown addresses through', async () => {
    expect((await exchange(await viaSocks(LEGACY), 'tcp')).toString()).toBe(`${LEGACY}|tcp`);
    expect((await exchange(await viaSocks(OUTSIDE), 'out')).toString()).toBe(`${OUTSIDE}|out`);
    const text = await (await fetch(`http://${NODE_A}:15020/metrics`)).text();
    expect(
      sampleSum(text, 'istio_tcp_connections_closed_total', {
        destination_workload: 'legacy',
        connection_security_policy: 'unknown',
      }),
    ).toBe(1);
  });

  it('serves config_dump, readiness and the logging level', async () => {
    const ready = await httpGet(`http://${NODE_B}:15021/healthz/ready`);
    expect(ready).toEqual({ status: 200, body: 'ready\n' });
    const dump = JSON.parse((await httpGet(`http://${NODE_B}:15000/config_dump`)).body) as {
      workloads: { name: string }[];
      certificates: { identity: string }[];
    };
    expect(dump.workloads.map((w) => w.name)).toContain('echo-1');
    expect(dump.certificates.map((c) => c.identity)).toContain('spiffe://cluster.local/ns/default/sa/echo');
    const level = await httpGet(`http://${NODE_B}:15000/logging?level=warn`, { method: 'POST' });
    expect(level.body).toBe('current log level is warn\n');
    expect(b.ztunnel.logger.level).toBe('warn');
    await httpGet(`http://${NODE_B}:15000/logging?reset`, { method: 'POST' });
  });
});
