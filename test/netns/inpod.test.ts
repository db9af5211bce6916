import { existsSync } from 'node:fs';
import { once } from 'node:events';
import net, { type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { closeServer, createLogger, ErrorCode, formatSocketAddress, isMeshError } from '@ambient/core';
import { HbonePool, type HboneDialer } from '@ambient/hbone';
import { WorkloadCertificate } from '@ambient/identity';
import { dialInNetns, listenInNetns } from '@ambient/redirect';
import { sumOf } from '@ambient/testing';
import { useNetnsCluster } from '../../packages/testing/src/netns/vitest.js';
import { FakeNodeAgent, InpodMesh, type MeshPod, type NodeZtunnel } from './inpod-mesh.js';
import { APP_PORT, BULK_CLIENT, ECHO_CLIENT, PORT_PROBE } from './pod-scripts.js';

// ztunnel in in-pod mode on a real cluster of network namespaces, in the spirit of ztunnel's
// tests/namespaced.rs: two nodes, each with an in-process ztunnel fed by a fake node agent over
// ZDS; pods with istio-cni's iptables rules; unmodified programs as apps and clients.
// Root only: without root this file fails, it never skips.

const NEEDS_ROOT = 'the in-pod tests need root (network namespaces, iptables, setns); CI runs them as root';

const cluster = useNetnsCluster({ nodes: 2, podsPerNode: 2, ipv6: true, prefix: 'inpod' });
let meshOrUndefined: InpodMesh | undefined;

beforeAll(async () => {
  expect(process.getuid?.(), NEEDS_ROOT).toBe(0);
  const [sleep, echoLocal, echoRemote, legacy] = cluster().pods;
  if (!sleep || !echoLocal || !echoRemote || !legacy) throw new Error('the cluster has too few pods');
  meshOrUndefined = await InpodMesh.create(cluster(), [
    { pod: sleep, serviceAccount: 'sleep', captured: true }, // node-0: the usual client
    { pod: echoLocal, serviceAccount: 'echo', captured: true }, // node-0
    { pod: echoRemote, serviceAccount: 'echo', captured: true }, // node-1
    { pod: legacy, serviceAccount: 'legacy', captured: false }, // node-1, outside the mesh
  ]);
});

afterAll(async () => {
  await meshOrUndefined?.close();
});

function mesh(): InpodMesh {
  if (meshOrUndefined === undefined) throw new Error('the mesh was not built');
  return meshOrUndefined;
}

const SLEEP = (): MeshPod => mesh().pod('node-0-pod-0');
const ECHO_LOCAL = (): MeshPod => mesh().pod('node-0-pod-1');
const ECHO_REMOTE = (): MeshPod => mesh().pod('node-1-pod-0');
const LEGACY = (): MeshPod => mesh().pod('node-1-pod-1');
const NODE_0 = (): NodeZtunnel => mesh().nodeOf(SLEEP());
const NODE_1 = (): NodeZtunnel => mesh().nodeOf(LEGACY());

const OPENED = 'istio_tcp_connections_opened_total';
const CLOSED = 'istio_tcp_connections_closed_total';
const RECEIVED = 'istio_tcp_received_bytes_total';

/** Runs the echo client in `from`'s namespace: what comes back, as the app wrote it. */
async function echo(
  from: MeshPod,
  host: string,
  message: string,
): Promise<{ code: number | null; reply: string }> {
  const result = await cluster().exec(from.pod.netnsName, process.execPath, [
    '-e',
    ECHO_CLIENT,
    host,
    String(APP_PORT),
    message,
  ]);
  return { code: result.code, reply: result.stdout };
}

async function scrape(node: NodeZtunnel): Promise<string> {
  return await (await fetch(`http://${node.instanceIp}:15020/metrics`)).text();
}

async function count(node: NodeZtunnel, name: string, labels: Record<string, string>): Promise<number> {
  return sumOf(await scrape(node), name, labels);
}

interface ConfigDump {
  inpod: {
    synced: boolean;
    pods: { uid: string; workloadUid?: string; listeners: { role: string; address: string }[] }[];
    draining: { uid: string }[];
  };
}

async function configDump(node: NodeZtunnel): Promise<ConfigDump> {
  return (await (await fetch(`http://${node.instanceIp}:15000/config_dump`)).json()) as ConfigDump;
}

/** A connection an app in `pod` would make (no mark, so the pod's rules capture it). */
function appConnect(pod: MeshPod, ip: string, port = APP_PORT): Promise<Socket> {
  return dialInNetns(pod.netnsFd, { family: ip.includes(':') ? 6 : 4, address: ip, port });
}

/** The next `length` bytes from the socket, as text. */
async function read(socket: Socket, length: number): Promise<string> {
  let text = '';
  while (text.length < length) {
    const chunk = (socket.read() as Buffer | null) ?? undefined;
    if (chunk === undefined) {
      await Promise.race([
        once(socket, 'readable'),
        once(socket, 'close').then(() => {
          throw new Error(`connection closed after ${JSON.stringify(text)}`);
        }),
      ]);
      continue;
    }
    text += chunk.toString('utf8');
  }
  return text;
}

const identity = (account: string): string => `spiffe://cluster.local/ns/default/sa/${account}`;

describe('in-pod ztunnel on a netns cluster', () => {
  it('carries a captured pod’s connection to a captured pod of its node over HBONE; the app sees the client pod’s IP', async () => {
    const labels = {
      source_workload: SLEEP().pod.name,
      destination_workload: ECHO_LOCAL().pod.name,
      source_principal: identity('sleep'),
      destination_principal: identity('echo'),
      connection_security_policy: 'mutual_tls',
    };
    const before = {
      source: await count(NODE_0(), CLOSED, { ...labels, reporter: 'source' }),
      destination: await count(NODE_0(), CLOSED, { ...labels, reporter: 'destination' }),
    };

    expect(await echo(SLEEP(), ECHO_LOCAL().pod.ip, 'same node')).toEqual({
      code: 0,
      reply: `${SLEEP().pod.ip}|same node`,
    });
    // One ztunnel serves both pods: it reports the connection once as each side.
    await vi.waitFor(async () => {
      expect(await count(NODE_0(), CLOSED, { ...labels, reporter: 'source' })).toBe(before.source + 1);
      expect(await count(NODE_0(), CLOSED, { ...labels, reporter: 'destination' })).toBe(
        before.destination + 1,
      );
    });
  });

  it('across nodes, reports the source on the client’s ztunnel and the destination on the server’s, with both identities', async () => {
    const labels = {
      source_workload: SLEEP().pod.name,
      destination_workload: ECHO_REMOTE().pod.name,
      source_principal: identity('sleep'),
      destination_principal: identity('echo'),
      connection_security_policy: 'mutual_tls',
    };
    const source = { ...labels, reporter: 'source' };
    const destination = { ...labels, reporter: 'destination' };
    const before = {
      source: await count(NODE_0(), CLOSED, source),
      sourceBytes: await count(NODE_0(), RECEIVED, source),
      destination: await count(NODE_1(), CLOSED, destination),
      destinationBytes: await count(NODE_1(), RECEIVED, destination),
    };

    const message = 'across nodes';
    expect(await echo(SLEEP(), ECHO_REMOTE().pod.ip, message)).toEqual({
      code: 0,
      reply: `${SLEEP().pod.ip}|${message}`,
    });
    await vi.waitFor(async () => {
      expect(await count(NODE_0(), CLOSED, source)).toBe(before.source + 1);
      expect(await count(NODE_0(), RECEIVED, source)).toBe(before.sourceBytes + message.length);
      expect(await count(NODE_1(), CLOSED, destination)).toBe(before.destination + 1);
      expect(await count(NODE_1(), RECEIVED, destination)).toBe(before.destinationBytes + message.length);
    });
    // Each side reports only its own end.
    expect(await count(NODE_1(), OPENED, source)).toBe(0);
    expect(await count(NODE_0(), OPENED, destination)).toBe(0);
  });

  it('sends a captured pod’s traffic to a pod outside the mesh as plain TCP from the client pod’s IP', async () => {
    const labels = {
      reporter: 'source',
      source_workload: SLEEP().pod.name,
      destination_workload: LEGACY().pod.name,
      connection_security_policy: 'unknown',
    };
    const before = await count(NODE_0(), CLOSED, labels);
    expect(await echo(SLEEP(), LEGACY().pod.ip, 'to legacy')).toEqual({
      code: 0,
      reply: `${SLEEP().pod.ip}|to legacy`,
    });
    await vi.waitFor(async () => {
      expect(await count(NODE_0(), CLOSED, labels)).toBe(before + 1);
    });
    // The legacy pod has no ztunnel of its own: nothing reports it as a destination.
    expect(await count(NODE_1(), OPENED, { destination_workload: LEGACY().pod.name })).toBe(0);
  });

  it('takes a client outside the mesh to captured pods through inbound plaintext (15006), from the client’s IP', async () => {
    for (const [server, node] of [
      [ECHO_REMOTE(), NODE_1()],
      [ECHO_LOCAL(), NODE_0()],
    ] as const) {
      const labels = {
        reporter: 'destination',
        source_workload: LEGACY().pod.name,
        destination_workload: server.pod.name,
        destination_principal: identity('echo'),
        connection_security_policy: 'unknown',
      };
      const before = await count(node, CLOSED, labels);
      expect(await echo(LEGACY(), server.pod.ip, 'plaintext in')).toEqual({
        code: 0,
        reply: `${LEGACY().pod.ip}|plaintext in`,
      });
      await vi.waitFor(async () => {
        expect(await count(node, CLOSED, labels)).toBe(before + 1);
      });
    }
  });

  it('carries IPv6 the same way, where the kernel has IPv6', async () => {
    if (!cluster().ipv6) {
      // Only a kernel without IPv6 may leave it out; anything else is a failure, not a skip.
      expect(existsSync('/proc/sys/net/ipv6')).toBe(false);
      return;
    }
    const v6 = (pod: MeshPod): string => pod.pod.ipv6 ?? 'missing';
    expect(await echo(SLEEP(), v6(ECHO_REMOTE()), 'v6 across')).toEqual({
      code: 0,
      reply: `${v6(SLEEP())}|v6 across`,
    });
    expect(await echo(SLEEP(), v6(ECHO_LOCAL()), 'v6 local')).toEqual({
      code: 0,
      reply: `${v6(SLEEP())}|v6 local`,
    });
    expect(await echo(LEGACY(), v6(ECHO_REMOTE()), 'v6 plaintext')).toEqual({
      code: 0,
      reply: `${v6(LEGACY())}|v6 plaintext`,
    });
    // The tunnel itself ran over IPv6: HBONE to the pod's IPv6 address.
    expect(
      NODE_0().logs.lines.some(
        (line) => line['dst.hbone_addr'] === formatSocketAddress(v6(ECHO_REMOTE()), APP_PORT),
      ),
    ).toBe(true);
  });

  it('moves large transfers byte-exact in both directions', async () => {
    const targets = [ECHO_REMOTE().pod.ip, ...(cluster().ipv6 ? [ECHO_LOCAL().pod.ipv6 ?? ''] : [])];
    for (const target of targets) {
      const result = await cluster().exec(
        SLEEP().pod.netnsName,
        process.execPath,
        ['-e', BULK_CLIENT, target, String(APP_PORT), '16'],
        { timeoutMs: 60_000 },
      );
      expect(result.stderr).toBe('');
      const outcome = JSON.parse(result.stdout) as Record<string, unknown>;
      expect(outcome.echoedBytes).toBe(16 * 1024 * 1024);
      expect(outcome.echoed).toBe(outcome.sent);
    }
  });

  it('answers 400 to an HBONE CONNECT for an IP that is not the pod the connection arrived at', async () => {
    const client = LEGACY();
    const certificate = WorkloadCertificate.fromPem(await mesh().pki.issue({ identity: identity('legacy') }));
    const pool = new HbonePool({
      certificates: { certificateFor: (id) => (id === identity('legacy') ? certificate : undefined) },
      logger: createLogger({ level: 'silent' }),
    });
    // An HBONE client in a pod outside the mesh, talking to the remote echo pod's 15008 directly.
    const dialer: HboneDialer = {
      name: 'legacy pod',
      connect: (ip, port) =>
        dialInNetns(client.netnsFd, { family: 4, address: ip, port, allowHalfOpen: false }),
    };
    const key = {
      sourceIdentity: identity('legacy'),
      expectedIdentities: [identity('echo')],
      destinationIp: ECHO_REMOTE().pod.ip,
      destinationPort: 15008,
      dialer,
    };
    try {
      // Another pod's IP (a real one, on the other node) is no target for this pod's 15008.
      const mismatch = await pool
        .connect(key, { authority: formatSocketAddress(ECHO_LOCAL().pod.ip, APP_PORT) })
        .catch((err: unknown) => err);
      expect(isMeshError(mismatch, ErrorCode.HboneRejected)).toBe(true);
      expect((mismatch as Error).message).toContain('status 400');

      // This pod's IP is, and the app sees the caller's address.
      const stream = await pool.connect(key, {
        authority: formatSocketAddress(ECHO_REMOTE().pod.ip, APP_PORT),
      });
      stream.end('direct');
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe(`${client.pod.ip}|direct`);

      // "This pod" is every IP the state gives it, not the address the connection used.
      const v6 = ECHO_REMOTE().pod.ipv6;
      if (v6 !== undefined) {
        const viaV6 = await pool.connect(key, { authority: formatSocketAddress(v6, APP_PORT) });
        viaV6.end('v6 target');
        const v6Chunks: Buffer[] = [];
        for await (const chunk of viaV6) v6Chunks.push(chunk as Buffer);
        expect(Buffer.concat(v6Chunks).toString()).toMatch(/\|v6 target$/);
      }
    } finally {
      pool.destroy();
    }
  });

  it('lets a captured pod neither loop through nor reach ztunnel’s own ports', async () => {
    const ports = [15001, 15006, 15008, 15020, 15021];
    const hosts = [
      '127.0.0.1',
      SLEEP().pod.ip,
      ECHO_LOCAL().pod.ip,
      ECHO_REMOTE().pod.ip,
      cluster().nodes[0]?.ip ?? '',
    ];
    const targets = hosts.flatMap((host) => ports.map((port) => formatSocketAddress(host, port)));
    const totalOpened = async (): Promise<number> =>
      sumOf(await scrape(NODE_0()), OPENED, {}) + sumOf(await scrape(NODE_1()), OPENED, {});
    const before = await totalOpened();

    const result = await cluster().exec(
      SLEEP().pod.netnsName,
      process.execPath,
      ['-e', PORT_PROBE, ...targets],
      {
        timeoutMs: 20_000,
      },
    );
    const probes = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { target: string; outcome: string; reply: string });
    expect(probes.map((probe) => probe.target)).toEqual(targets);
    for (const probe of probes) {
      // Every attempt ends at once, and nothing that answers HTTP (metrics, readiness) or an app is reached.
      expect(probe.outcome, probe.target).not.toBe('timeout');
      expect(probe.reply, probe.target).not.toContain('HTTP/1.');
      expect(probe.reply, probe.target).not.toContain('|GET');
    }
    // No loop: every probe is at most one outbound and one inbound connection, and all are over.
    await vi.waitFor(() => {
      expect(NODE_0().ztunnel.connections.size + NODE_1().ztunnel.connections.size).toBe(0);
    });
    expect((await totalOpened()) - before).toBeLessThanOrEqual(2 * targets.length);
    // The pod dialling its own 15001 is caught as a self call rather than passed on to itself.
    const selfCalls = NODE_0().logs.lines.filter(
      (line) => line['dst.addr'] === '127.0.0.1:15001' && line.message === 'connection complete',
    );
    expect(selfCalls.map((line) => line.error)).toEqual([
      "127.0.0.1:15001 is one of ztunnel's own listeners",
    ]);
    // ztunnel is still serving.
    expect((await echo(SLEEP(), ECHO_LOCAL().pod.ip, 'still here')).reply).toBe(
      `${SLEEP().pod.ip}|still here`,
    );
  });

  it('drains a removed pod: open connections carry on until the deadline, then close; its listeners are gone', async () => {
    const server = ECHO_REMOTE();
    const socket = await appConnect(SLEEP(), server.pod.ip);
    socket.on('error', () => undefined);
    // A FIN or a reset, whichever the drain's end turns into here.
    const ended = new Promise<void>((resolve) => {
      socket.once('end', resolve);
      socket.once('close', resolve);
    });
    expect(await read(socket, `${SLEEP().pod.ip}|`.length)).toBe(`${SLEEP().pod.ip}|`);
    socket.write('one');
    expect(await read(socket, 3)).toBe('one');

    await NODE_1().agent.del(server);
    const dump = await configDump(NODE_1());
    expect(dump.inpod.pods.map((pod) => pod.uid)).not.toContain(server.uid);
    expect(dump.inpod.draining.map((pod) => pod.uid)).toContain(server.uid);
    // Draining lets the open connection go on...
    socket.write('two');
    expect(await read(socket, 3)).toBe('two');
    // ...until the deadline ends it.
    socket.resume();
    await ended;
    socket.destroy();
    await vi.waitFor(async () => {
      expect((await configDump(NODE_1())).inpod.draining).toEqual([]);
    });
    // Nothing listens in the pod any more: new connections to it fail.
    const hbone = await dialInNetns(server.netnsFd, { family: 4, address: '127.0.0.1', port: 15008 }).catch(
      (err: unknown) => err,
    );
    expect(isMeshError(hbone, ErrorCode.ConnectFailed)).toBe(true);
    expect((await echo(SLEEP(), server.pod.ip, 'gone')).reply).not.toContain('|gone');

    // Added again, it is served again.
    await NODE_1().agent.add(server);
    expect((await echo(SLEEP(), server.pod.ip, 'back')).reply).toBe(`${SLEEP().pod.ip}|back`);
  });

  it('nacks a pod whose listeners cannot open, and serves it once the node agent’s retry succeeds', async () => {
    const pod = ECHO_LOCAL();
    await NODE_0().agent.del(pod);
    // Something in the pod holds 15008 without SO_REUSEPORT: ztunnel cannot bind it.
    const blocker = net.createServer();
    await listenInNetns(blocker, pod.netnsFd, { family: 6, address: '::', port: 15008 });
    const nacks: string[] = [];
    await NODE_0().agent.add(pod, (reason) => {
      nacks.push(reason);
      void closeServer(blocker);
    });
    expect(nacks.length).toBeGreaterThanOrEqual(1);
    expect(nacks[0]).toContain('failure to start proxy');
    expect((await configDump(NODE_0())).inpod.pods.map((entry) => entry.uid)).toContain(pod.uid);
    expect((await echo(SLEEP(), pod.pod.ip, 'retried')).reply).toBe(`${SLEEP().pod.ip}|retried`);
  });

  it('re-adopts its pods from the node agent’s snapshot when restarted, and serves new connections', async () => {
    const node = NODE_0();
    await mesh().restart(node);
    await vi.waitFor(async () => {
      expect((await fetch(`http://${node.instanceIp}:15021/healthz/ready`)).status).toBe(200);
    });
    const dump = await configDump(node);
    expect(dump.inpod.synced).toBe(true);
    expect(dump.inpod.pods.map((pod) => pod.uid).sort()).toEqual([SLEEP().uid, ECHO_LOCAL().uid].sort());
    for (const pod of dump.inpod.pods) {
      expect(pod.workloadUid).toBe(
        `Kubernetes//v1/Pod/default/${pod.uid === SLEEP().uid ? SLEEP().pod.name : ECHO_LOCAL().pod.name}`,
      );
      expect(pod.listeners.map((listener) => listener.role)).toEqual([
        'outbound',
        'inbound plaintext',
        'inbound HBONE',
      ]);
    }

    expect((await echo(SLEEP(), ECHO_LOCAL().pod.ip, 'after restart')).reply).toBe(
      `${SLEEP().pod.ip}|after restart`,
    );
    expect((await echo(SLEEP(), ECHO_REMOTE().pod.ip, 'out')).reply).toBe(`${SLEEP().pod.ip}|out`);
    expect((await echo(LEGACY(), ECHO_LOCAL().pod.ip, 'in')).reply).toBe(`${LEGACY().pod.ip}|in`);
    await vi.waitFor(async () => {
      expect(await count(node, CLOSED, { reporter: 'source', source_workload: SLEEP().pod.name })).toBe(2);
    });
  });

  it('is not ready until the node agent has sent its snapshot', async () => {
    const path = mesh().path('late-agent.sock');
    const { ztunnel } = await mesh().startZtunnel('node-late', '127.43.0.9', path);
    const readiness = async (): Promise<string> =>
      await (await fetch('http://127.43.0.9:15021/healthz/ready')).text();
    expect(await readiness()).toContain('pending: inpod');
    const agent = new FakeNodeAgent(path, []);
    try {
      await agent.ready();
      await vi.waitFor(async () => {
        expect(await readiness()).toBe('ready\n');
      });
    } finally {
      await ztunnel.shutdown();
      agent.close();
    }
  });
});
