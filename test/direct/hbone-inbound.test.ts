import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientTlsOptions, WorkloadCertificate } from '@ambient/identity';
import { startEchoServer, TestPki, type EchoServer } from '@ambient/testing';
import { LoopbackMesh, sampleSum } from './harness.js';
import { rawConnect } from './hbone-client.js';

// Addresses of this file: node 127.21.0.1, pods 127.21.1.x.
const NODE = '127.21.0.1';
const ECHO = '127.21.1.1';
const SILENT = '127.21.1.2'; // a mesh workload with nothing listening
const ECHO_ID = 'spiffe://cluster.local/ns/default/sa/echo';

describe('inbound HBONE: ztunnel checks and status codes', () => {
  let mesh: LoopbackMesh;
  let echo: EchoServer;
  let client: WorkloadCertificate;

  beforeAll(async () => {
    mesh = await LoopbackMesh.create({
      workloads: [
        {
          name: 'echo',
          serviceAccount: 'echo',
          workloadIps: [ECHO],
          protocol: 'HBONE',
          node: 'node-a',
          services: { 'default/echo.default.svc.cluster.local': { 80: 8080 } },
        },
        { name: 'silent', serviceAccount: 'echo', workloadIps: [SILENT], protocol: 'HBONE', node: 'node-a' },
      ],
      services: [
        {
          name: 'echo',
          hostname: 'echo.default.svc.cluster.local',
          vips: ['/127.21.10.1'],
          ports: { 80: 8080 },
        },
      ],
    });
    echo = await startEchoServer(ECHO, 8080);
    await mesh.startZtunnel('node-a', NODE);
    client = WorkloadCertificate.fromPem(
      await mesh.pki.issue({ identity: { namespace: 'default', serviceAccount: 'sleep' } }),
    );
  });

  afterAll(async () => {
    await mesh.close();
    await echo.close();
  });

  const connect = (authority: string, extra: { method?: string; host?: string } = {}) =>
    rawConnect({ tls: clientTlsOptions(client, [ECHO_ID]), host: extra.host ?? ECHO, authority, ...extra });

  it('answers 200 and tunnels bytes for a CONNECT to the pod itself', async () => {
    const outcome = await connect(`${ECHO}:8080`);
    expect(outcome.kind === 'status' && outcome.status).toBe(200);
    if (outcome.kind !== 'status') return;
    const reply = await new Promise<string>((resolve) => {
      let data = '';
      outcome.stream.on('data', (chunk: Buffer) => (data += chunk.toString()));
      outcome.stream.on('end', () => {
        resolve(data);
      });
      outcome.stream.end('ping');
    });
    expect(reply).toBe('ping');
    outcome.session.close();
  });

  it('accepts a service hostname authority and maps the service port to the target port', async () => {
    const outcome = await connect('echo.default.svc.cluster.local:80');
    expect(outcome.kind === 'status' && outcome.status).toBe(200);
    if (outcome.kind === 'status') outcome.session.destroy();
  });

  it.each([
    ['a method other than CONNECT', `${ECHO}:8080`, 'GET', 400],
    ['an authority without a port', 'no-port-here', 'CONNECT', 400],
    ['a port out of range', `${ECHO}:70000`, 'CONNECT', 400],
    ['a target IP other than the pod it arrived for', `127.21.1.77:8080`, 'CONNECT', 400],
    ['an unknown service hostname', 'nope.default.svc.cluster.local:80', 'CONNECT', 503],
    ['an unknown port of a known service', 'echo.default.svc.cluster.local:81', 'CONNECT', 503],
    ['one of ztunnel’s own ports', `${ECHO}:15008`, 'CONNECT', 503],
  ])('rejects %s (authority %s, method %s) with status %s', async (_what, authority, method, status) => {
    const outcome = await connect(authority, { method });
    expect(outcome.kind === 'status' && outcome.status).toBe(status);
    if (outcome.kind === 'status') outcome.session.destroy();
  });

  it('answers 503 when the backend refuses, and counts it as a CONNECT failure', async () => {
    const outcome = await connect(`${SILENT}:8080`, { host: SILENT });
    expect(outcome.kind === 'status' && outcome.status).toBe(503);
    if (outcome.kind === 'status') outcome.session.destroy();
    const text = await (await fetch(`http://${NODE}:15020/metrics`)).text();
    expect(
      sampleSum(text, 'istio_tcp_connections_failed_total', {
        destination_workload: 'silent',
        response_flags: 'CONNECT',
      }),
    ).toBe(1);
  });

  describe('TLS: only mutual TLS 1.3 with a certificate of our trust domain gets in', () => {
    const expectRefused = async (tlsOptions: import('node:tls').ConnectionOptions) => {
      const outcome = await rawConnect({ tls: tlsOptions, host: ECHO, authority: `${ECHO}:8080` });
      expect(outcome.kind).toBe('failed');
    };

    it('refuses a client without a certificate', async () => {
      await expectRefused({ ca: mesh.pki.rootCertPem, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    });

    it('refuses a client certificate from another trust domain, even under our root', async () => {
      const foreign = await mesh.pki.issue({ identity: 'spiffe://other.domain/ns/default/sa/sleep' });
      await expectRefused({
        cert: foreign.certChainPem,
        key: foreign.keyPem,
        ca: mesh.pki.rootCertPem,
        rejectUnauthorized: false,
      });
    });

    it('refuses a certificate from an untrusted CA', async () => {
      const stranger = await (
        await TestPki.create()
      ).issue({ identity: { namespace: 'default', serviceAccount: 'sleep' } });
      await expectRefused({
        cert: stranger.certChainPem,
        key: stranger.keyPem,
        ca: mesh.pki.rootCertPem,
        rejectUnauthorized: false,
      });
    });

    it('refuses an expired certificate', async () => {
      const expired = await mesh.pki.issue({
        identity: { namespace: 'default', serviceAccount: 'sleep' },
        notBefore: new Date(Date.now() - 48 * 3_600_000),
        notAfter: new Date(Date.now() - 3_600_000),
      });
      await expectRefused({
        cert: expired.certChainPem,
        key: expired.keyPem,
        ca: mesh.pki.rootCertPem,
        rejectUnauthorized: false,
      });
    });

    it('refuses a client that offers only TLS 1.2', async () => {
      const good = await mesh.pki.issue({ identity: { namespace: 'default', serviceAccount: 'sleep' } });
      await expectRefused({
        cert: good.certChainPem,
        key: good.keyPem,
        ca: mesh.pki.rootCertPem,
        rejectUnauthorized: false,
        maxVersion: 'TLSv1.2',
      });
    });

    it('lets our client refuse a server that is not the expected identity', async () => {
      const outcome = await rawConnect({
        tls: clientTlsOptions(client, ['spiffe://cluster.local/ns/default/sa/someone-else']),
        host: ECHO,
        authority: `${ECHO}:8080`,
      });
      expect(outcome).toMatchObject({
        kind: 'failed',
        error: expect.stringContaining('expected SAN') as unknown,
      });
    });
  });
});
