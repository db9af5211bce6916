import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@ambient/core';
import {
  parseConfig as parseControlPlaneConfig,
  startControlPlane,
  type ControlPlane,
} from '@ambient/control-plane';
import { exchange, socks5Connect, Socks5Error, startEchoServer, type EchoServer } from '@ambient/testing';
import type { Ztunnel } from '@ambient/ztunnel';
import { eventually, LogCapture, LoopbackMesh, meshWorkload, sampleSum } from './harness.js';

// Addresses of this file: control plane 127.42.0.10, nodes 127.42.0.x, pods 127.42.1.x (node-a) and
// 127.42.2.x (node-b), VIP 127.42.10.1.
const CONTROL_PLANE = '127.42.0.10';
const NODE_A = '127.42.0.1';
const NODE_B = '127.42.0.2';
const SLEEP = '127.42.1.1';
const ECHO = '127.42.2.1';
const LATE = '127.42.2.2';
const APP_PORT = 8080;

const NAMESPACE = `apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: { istio.io/dataplane-mode: ambient }
`;

function pod(name: string, ip: string, node: string): string {
  return `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: default, labels: { app: ${name} } }
spec:
  serviceAccountName: ${name}
  nodeName: ${node}
  containers: [{ name: app, image: app }]
status:
  phase: Running
  podIP: ${ip}
  podIPs: [{ ip: ${ip} }]
`;
}

const DENY_SLEEP = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-sleep, namespace: default }
spec:
  selector: { matchLabels: { app: echo } }
  action: DENY
  rules:
    - from: [{ source: { principals: [cluster.local/ns/default/sa/sleep] } }]
`;

describe('the control plane drives the ztunnels from a folder of Kubernetes YAML over Delta xDS', () => {
  let mesh: LoopbackMesh;
  let configDir: string;
  let controlPlane: ControlPlane | undefined;
  const cpLogs = new LogCapture();
  let a: { ztunnel: Ztunnel; logs: LogCapture };
  let b: { ztunnel: Ztunnel; logs: LogCapture };
  const servers: EchoServer[] = [];

  const startCp = async (): Promise<ControlPlane> =>
    startControlPlane(
      parseControlPlaneConfig({
        CA_LISTEN_ADDRESS: `${CONTROL_PLANE}:15012`,
        CA_STATE_DIR: join(mesh.dir, 'ca'),
        CA_TOKENS_FILE: join(mesh.dir, 'tokens.json'),
        CONFIG_DIR: configDir,
      }),
      { logger: createLogger({ level: 'debug', destination: cpLogs }) },
    );
  const xdsEnv = { XDS_ADDRESS: `http://${CONTROL_PLANE}:15010` };
  const viaSocks = (target: string): Promise<Socket> =>
    socks5Connect({
      proxyIp: NODE_A,
      proxyPort: 15080,
      sourceIp: SLEEP,
      targetHost: target,
      targetPort: APP_PORT,
    });
  const readiness = async (ip: string): Promise<number> =>
    (await fetch(`http://${ip}:15021/healthz/ready`)).status;

  beforeAll(async () => {
    // The harness's PKI supplies certificates from files; workloads come from the control plane only.
    mesh = await LoopbackMesh.create({
      workloads: [
        meshWorkload('sleep', SLEEP, 'node-a'),
        meshWorkload('echo', ECHO, 'node-b'),
        meshWorkload('late', LATE, 'node-b'),
      ],
    });
    await writeFile(
      join(mesh.dir, 'tokens.json'),
      JSON.stringify([{ token: 't', kind: 'node', node: 'node-a' }]),
    );
    configDir = join(mesh.dir, 'mesh');
    await mkdir(configDir);
    await writeFile(join(configDir, 'namespace.yaml'), NAMESPACE);
    await writeFile(
      join(configDir, 'pods.yaml'),
      [pod('sleep', SLEEP, 'node-a'), pod('echo', ECHO, 'node-b')].join('---\n'),
    );
    for (const ip of [ECHO, LATE]) servers.push(await startEchoServer(ip, APP_PORT, `${ip}|`));
    controlPlane = await startCp();
    [a, b] = await Promise.all([
      mesh.startZtunnel('node-a', NODE_A, xdsEnv),
      mesh.startZtunnel('node-b', NODE_B, xdsEnv),
    ]);
  });

  afterAll(async () => {
    await mesh.close();
    await controlPlane?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  it('serves the converted workloads: a pod in an ambient namespace is reached over HBONE', async () => {
    const socket = await viaSocks(ECHO);
    expect((await exchange(socket, 'hi')).toString()).toBe(`${ECHO}|hi`);
    const dump = (await (await fetch(`http://${NODE_B}:15000/config_dump`)).json()) as {
      workloads: { uid: string; tunnelProtocol: string }[];
      stateSource: { source: string };
    };
    expect(dump.stateSource.source).toBe('xds');
    expect(dump.workloads.map((w) => [w.uid, w.tunnelProtocol]).sort()).toEqual([
      ['Kubernetes//Pod/default/echo', 'HBONE'],
      ['Kubernetes//Pod/default/sleep', 'HBONE'],
    ]);
  });

  it('follows an edit of the folder: a new pod becomes a mesh workload, reached over HBONE', async () => {
    const lateOverHbone = async (): Promise<number> =>
      sampleSum(
        await (await fetch(`http://${NODE_B}:15020/metrics`)).text(),
        'istio_tcp_connections_opened_total',
        {
          reporter: 'destination',
          destination_workload: 'late',
          connection_security_policy: 'mutual_tls',
        },
      );
    // Unknown to the mesh: passed through as plain TCP, so node-b never sees it.
    expect((await exchange(await viaSocks(LATE), 'before')).toString()).toBe(`${LATE}|before`);
    expect(await lateOverHbone()).toBe(0);
    await writeFile(join(configDir, 'late.yaml'), pod('late', LATE, 'node-b'));
    await eventually(
      async () => {
        expect((await exchange(await viaSocks(LATE), 'late')).toString()).toBe(`${LATE}|late`);
        expect(await lateOverHbone()).toBeGreaterThanOrEqual(1);
      },
      100,
      50,
    );
  });

  it('a new DENY policy closes the open connection it now denies and refuses new ones with 401', async () => {
    const open = await viaSocks(ECHO);
    const received: Buffer[] = [];
    open.on('data', (chunk: Buffer) => received.push(chunk));
    open.on('error', () => undefined);
    open.resume();
    open.write('before');
    await eventually(() => {
      expect(Buffer.concat(received).toString()).toBe(`${ECHO}|before`);
    });
    // ztunnel ends the client's connection: an end (FIN) or a reset, whichever the kernel delivers.
    const closed = new Promise<void>((resolve) => {
      open.once('end', resolve);
      open.once('close', () => {
        resolve();
      });
    });
    await writeFile(join(configDir, 'policy.yaml'), DENY_SLEEP);
    await closed;
    const refused = await eventually(
      async () => {
        const err = await viaSocks(ECHO).then(
          (s) => {
            s.destroy();
            throw new Error('still allowed');
          },
          (e: unknown) => e,
        );
        return err;
      },
      100,
      50,
    );
    expect(refused).toBeInstanceOf(Socks5Error);
    await eventually(async () => {
      const text = await (await fetch(`http://${NODE_B}:15020/metrics`)).text();
      expect(
        sampleSum(text, 'istio_tcp_connections_opened_total', {
          reporter: 'destination',
          response_flags: 'DENY',
        }) +
          sampleSum(text, 'istio_tcp_connections_closed_total', {
            reporter: 'destination',
            response_flags: 'DENY',
          }),
      ).toBeGreaterThanOrEqual(1);
    });
    expect(b.logs.withMessage('closing connection: a policy change denies it').length).toBeGreaterThanOrEqual(
      1,
    );
    expect(a.logs.lines.some((line) => JSON.stringify(line).includes('401'))).toBe(true);
    await rm(join(configDir, 'policy.yaml'));
    await eventually(
      async () => {
        expect((await exchange(await viaSocks(ECHO), 'again')).toString()).toBe(`${ECHO}|again`);
      },
      100,
      50,
    );
  });

  it('reports an invalid object with file, object and field, and keeps serving the rest', async () => {
    await writeFile(
      join(configDir, 'broken.yaml'),
      `apiVersion: v1\nkind: Pod\nmetadata: { name: broken }\nspec: { nodeName: 7 }\n`,
    );
    await eventually(
      () => {
        const line = cpLogs.lines.find((l) => typeof l.file === 'string' && l.file.includes('broken.yaml'));
        expect(line).toMatchObject({
          object: expect.stringContaining('broken') as unknown,
          field: expect.any(String) as unknown,
        });
      },
      100,
      50,
    );
    expect((await exchange(await viaSocks(ECHO), 'still')).toString()).toBe(`${ECHO}|still`);
    await rm(join(configDir, 'broken.yaml'));
  });

  it('keeps serving on the last good state while the control plane is away, and follows the new one', async () => {
    await controlPlane?.close();
    controlPlane = undefined;
    expect((await exchange(await viaSocks(ECHO), 'alone')).toString()).toBe(`${ECHO}|alone`);
    expect(await readiness(NODE_B)).toBe(200);
    await rm(join(configDir, 'late.yaml'));
    controlPlane = await startCp();
    // The reconnecting ztunnel learns that `late` is gone (its version is sent back as held; the new
    // control plane answers with its removal).
    await eventually(
      async () => {
        const dump = (await (await fetch(`http://${NODE_B}:15000/config_dump`)).json()) as {
          workloads: { name: string }[];
        };
        expect(dump.workloads.map((w) => w.name).sort()).toEqual(['echo', 'sleep']);
      },
      200,
      50,
    );
    expect((await exchange(await viaSocks(ECHO), 'back')).toString()).toBe(`${ECHO}|back`);
  });

  it('a ztunnel is not ready until the first complete state arrived', async () => {
    const late = mesh.startZtunnel('node-c', '127.42.0.3', { XDS_ADDRESS: 'http://127.42.0.11:15010' });
    await eventually(async () => {
      expect(await readiness('127.42.0.3')).toBe(500);
    });
    const other = await startControlPlane(
      parseControlPlaneConfig({
        CA_LISTEN_ADDRESS: '127.42.0.11:15012',
        CA_STATE_DIR: join(mesh.dir, 'ca2'),
        CA_TOKENS_FILE: join(mesh.dir, 'tokens.json'),
        CONFIG_DIR: configDir,
      }),
      { logger: createLogger({ level: 'silent' }) },
    );
    try {
      await late;
      expect(await readiness('127.42.0.3')).toBe(200);
    } finally {
      await other.close();
    }
  });
});
