import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from './app.js';
import type { ControlPlaneConfig } from './config.js';
import { collectingLogger, makeCsr, requestCertificate, spiffeId } from './ca/test-fixtures.js';

const SLEEP = spiffeId('default', 'sleep');
const HOST = '127.27.0.7';

let dir: string;
let controlPlane: ControlPlane;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'control-plane-'));
  await writeFile(join(dir, 'tokens.yaml'), '- { token: t-ztunnel-a, kind: node, node: node-a }\n');
  await writeFile(
    join(dir, 'mesh.yaml'),
    'workloads:\n  - { name: sleep, namespace: default, serviceAccount: sleep, workloadIps: [127.0.1.1], node: node-a }\n',
  );
  const config: ControlPlaneConfig = {
    caListen: { ip: HOST, port: 0 },
    caCertsDir: undefined,
    caStateDir: join(dir, 'state'),
    caTokensFile: join(dir, 'tokens.yaml'),
    localXdsPath: join(dir, 'mesh.yaml'),
    configDir: undefined,
    kubernetes: false,
    xdsPlaintextListen: { ip: HOST, port: 0 },
    rootNamespace: 'istio-system',
    clusterId: 'Kubernetes',
    domainSuffix: 'cluster.local',
    trustDomain: 'cluster.local',
    defaultWorkloadCertTtlSeconds: 86_400,
    maxWorkloadCertTtlSeconds: 7_776_000,
    logLevel: 'info',
  };
  controlPlane = await startControlPlane(config, collectingLogger());
});

afterAll(async () => {
  await controlPlane.close();
  await rm(dir, { recursive: true, force: true });
});

describe('startControlPlane', () => {
  it('publishes the trust bundle as root-cert.pem in the state folder', async () => {
    expect(controlPlane.rootCertPath).toBe(join(dir, 'state', 'root-cert.pem'));
    expect(await readFile(controlPlane.rootCertPath, 'utf8')).toBe(controlPlane.authority.trustBundle);
  });

  it('signs for a node agent the workloads of LOCAL_XDS_PATH on its node', async () => {
    const rootPem = await readFile(controlPlane.rootCertPath, 'utf8');
    const { csrPem } = await makeCsr({ uris: [SLEEP] });
    const result = await requestCertificate(`${HOST}:${String(controlPlane.caServer.port)}`, rootPem, {
      csr: csrPem,
      validityDuration: 3600,
      token: 't-ztunnel-a',
      impersonate: SLEEP,
    });
    expect(result.ok && new X509Certificate(result.certChain[0] ?? '').subjectAltName).toBe(`URI:${SLEEP}`);
  });
});
