import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@ambient/core';
import {
  parseConfig as parseControlPlaneConfig,
  startControlPlane,
  type ControlPlane,
} from '@ambient/control-plane';
import { exchange, socks5Connect, startEchoServer, type EchoServer } from '@ambient/testing';
import { LoopbackMesh, meshWorkload } from './harness.js';

// Addresses of this file: CA 127.29.0.9, nodes 127.29.0.x, pods 127.29.1.x (node-a) and 127.29.2.x (node-b).
const CA = '127.29.0.9:15012';
const NODE_A = '127.29.0.1';
const NODE_B = '127.29.0.2';
const NODE_C = '127.29.0.3';
const CLIENT = '127.29.1.1';
const ECHO = '127.29.2.1';

describe('ztunnels get their certificates from our CA, for their own node’s workloads only', () => {
  let mesh: LoopbackMesh;
  let controlPlane: ControlPlane;
  let echo: EchoServer;
  const caEnv = (node: string): Record<string, string> => ({
    CA_ADDRESS: `https://${CA}`,
    CA_ROOT_CA: controlPlane.rootCertPath,
    AUTH_TOKEN: join(mesh.dir, `${node}.token`),
  });

  beforeAll(async () => {
    mesh = await LoopbackMesh.create({
      workloads: [meshWorkload('client', CLIENT, 'node-a'), meshWorkload('echo', ECHO, 'node-b')],
    });
    const tokens = [
      { token: 'token-of-node-a', kind: 'node', node: 'node-a' },
      { token: 'token-of-node-b', kind: 'node', node: 'node-b' },
    ];
    await writeFile(join(mesh.dir, 'tokens.json'), JSON.stringify(tokens));
    for (const { token, node } of tokens) await writeFile(join(mesh.dir, `${node}.token`), token);
    controlPlane = await startControlPlane(
      parseControlPlaneConfig({
        CA_LISTEN_ADDRESS: CA,
        CA_STATE_DIR: join(mesh.dir, 'ca'),
        CA_TOKENS_FILE: join(mesh.dir, 'tokens.json'),
        LOCAL_XDS_PATH: mesh.configPath,
      }),
      { logger: createLogger({ level: 'silent' }) },
    );
    echo = await startEchoServer(ECHO, 5000);
  });

  afterAll(async () => {
    await mesh.close();
    await controlPlane.close();
    await echo.close();
  });

  it('issues every node-local identity and the tunnel works with those certificates', async () => {
    await mesh.startZtunnel('node-a', NODE_A, caEnv('node-a'));
    await mesh.startZtunnel('node-b', NODE_B, caEnv('node-b'));
    const socket = await socks5Connect({
      proxyIp: NODE_A,
      proxyPort: 15080,
      sourceIp: CLIENT,
      targetHost: ECHO,
      targetPort: 5000,
    });
    expect((await exchange(socket, 'issued by our CA')).toString()).toBe('issued by our CA');
    const dump = (await (await fetch(`http://${NODE_B}:15000/config_dump`)).json()) as {
      certificates: { identity: string; state: string; expirationTime: string }[];
    };
    expect(dump.certificates).toEqual([
      expect.objectContaining({
        identity: 'spiffe://cluster.local/ns/default/sa/echo',
        state: 'Available',
      }) as unknown,
    ]);
    // The CA's default lifetime: 24 hours.
    const lifetimeHours = (Date.parse(dump.certificates[0]?.expirationTime ?? '') - Date.now()) / 3_600_000;
    expect(lifetimeHours).toBeGreaterThan(23);
    expect(lifetimeHours).toBeLessThanOrEqual(24);
  });

  it('refuses a node agent the identities of another node, so that ztunnel does not start', async () => {
    // node-c's ztunnel claims to be node-b (whose workload is echo) but holds node-a's token.
    await expect(mesh.startZtunnel('node-b', NODE_C, caEnv('node-a'))).rejects.toMatchObject({
      code: 'MESH_ERR_IDENTITY_CERT_MISSING',
    });
  });
});
