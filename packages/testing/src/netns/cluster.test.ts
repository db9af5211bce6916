import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsCluster } from './cluster.js';
import type { NetnsPod } from './plan.js';
import { useNetnsCluster } from './vitest.js';

const runFile = promisify(execFile);
const PREFIX = 'netnstest';
const KEEP_RUNNING = 'setInterval(() => {}, 1000)';

// Runs in a pod: echoes every connection, prefixed with the peer's address so tests see that
// traffic arrives from the pod's own IP (routed, not NATed). Prints its port once listening.
const ECHO_SERVER = `
const net = require('node:net');
const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  socket.write(socket.remoteAddress + '|');
  socket.pipe(socket);
});
server.listen(0, process.argv[1], () => console.log(server.address().port));
`;

// Runs in a pod: sends argv[3] to argv[1]:argv[2], half-closes, prints the whole reply.
const ECHO_CLIENT = `
const net = require('node:net');
const [host, port, message] = process.argv.slice(1);
let reply = '';
const socket = net.connect({ host, port: Number(port), allowHalfOpen: true }, () => socket.end(message));
socket.setEncoding('utf8');
socket.on('data', (chunk) => (reply += chunk));
socket.on('end', () => process.stdout.write(reply));
socket.on('error', (err) => { console.error(err.message); process.exitCode = 1; });
`;

async function hostLinkNames(): Promise<string[]> {
  const { stdout } = await runFile('ip', ['-o', 'link', 'show']);
  return linkNames(stdout);
}

/** Names from `ip -o link` lines such as `2: eth0@if3: <...>`. */
function linkNames(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (line.split(': ')[1] ?? '').split('@')[0] ?? '')
    .sort();
}

async function netnsNames(): Promise<string[]> {
  const { stdout } = await runFile('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

function only<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`no item ${index}`);
  return item;
}

async function startEchoServer(cluster: NetnsCluster, netnsName: string, ip: string): Promise<number> {
  const child = cluster.spawn(netnsName, process.execPath, ['-e', ECHO_SERVER, ip]);
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`echo server in ${netnsName} exited (${String(code)}) before listening`);
  });
  const stdout = child.stdout;
  if (stdout === null) throw new Error('echo server has no stdout');
  const [line] = (await Promise.race([once(stdout, 'data'), exited])) as [Buffer];
  return Number.parseInt(line.toString('utf8'), 10);
}

async function echoVia(cluster: NetnsCluster, from: NetnsPod, host: string, port: number, message: string) {
  const result = await cluster.exec(from.netnsName, process.execPath, [
    '-e',
    ECHO_CLIENT,
    host,
    String(port),
    message,
  ]);
  return { ...result, stdout: result.stdout.trim() };
}

describe('NetnsCluster, 2 nodes x 2 pods, IPv4', () => {
  let hostLinksBefore: string[] = [];
  beforeAll(async () => {
    hostLinksBefore = await hostLinkNames();
  });
  const cluster = useNetnsCluster({ nodes: 2, podsPerNode: 2, prefix: PREFIX });

  it('plans named, addressed nodes and pods whose namespaces exist', () => {
    const { nodes, pods, namespaces, id } = cluster();
    expect(nodes.map((node) => node.name)).toEqual(['node-0', 'node-1']);
    expect(pods.map((pod) => `${pod.node}/${pod.name} ${pod.ip}`)).toEqual([
      'node-0/node-0-pod-0 10.99.1.2',
      'node-0/node-0-pod-1 10.99.1.3',
      'node-1/node-1-pod-0 10.99.2.2',
      'node-1/node-1-pod-1 10.99.2.3',
    ]);
    expect(nodes.map((node) => node.ip)).toEqual(['10.99.0.1', '10.99.0.2']);
    expect(namespaces).toHaveLength(1 + 2 + 4);
    for (const name of namespaces) {
      expect(name.startsWith(`${id}-`)).toBe(true);
      expect(existsSync(`/var/run/netns/${name}`)).toBe(true);
    }
    for (const member of [...nodes, ...pods])
      expect(member.netnsPath).toBe(`/var/run/netns/${member.netnsName}`);
  });

  it('carries TCP between two pods of one node, from the client pod’s own address', async () => {
    const client = only(cluster().pods, 0);
    const server = only(cluster().pods, 1);
    const port = await startEchoServer(cluster(), server.netnsName, server.ip);
    const reply = await echoVia(cluster(), client, server.ip, port, 'same node');
    expect(reply).toMatchObject({ code: 0, stdout: `${client.ip}|same node` });
  });

  it('carries TCP between pods of different nodes, routed via the node IPs without NAT', async () => {
    const client = only(cluster().pods, 0);
    const server = only(cluster().pods, 3);
    expect(client.node).not.toBe(server.node);
    const port = await startEchoServer(cluster(), server.netnsName, server.ip);
    const reply = await echoVia(cluster(), client, server.ip, port, 'across nodes');
    expect(reply).toMatchObject({ code: 0, stdout: `${client.ip}|across nodes` });
  });

  it('lets a pod reach another node on its node IP (where ztunnel listens)', async () => {
    const client = only(cluster().pods, 0);
    const node = only(cluster().nodes, 1);
    const port = await startEchoServer(cluster(), node.netnsName, node.ip);
    const reply = await echoVia(cluster(), client, node.ip, port, 'to node');
    expect(reply).toMatchObject({ code: 0, stdout: `${client.ip}|to node` });
  });

  it('gives a pod only loopback and its veth', async () => {
    const pod = only(cluster().pods, 2);
    const { stdout, code } = await cluster().exec(pod.netnsName, 'ip', ['-o', 'link', 'show']);
    expect(code).toBe(0);
    expect(linkNames(stdout)).toEqual(['eth0', 'lo']);
  });

  it('adds no interface to the host namespace', async () => {
    expect(await hostLinkNames()).toEqual(hostLinksBefore);
  });

  it('has no way out: nodes route nothing beyond the cluster’s own addresses', async () => {
    // `ip route get` asks the routing table without sending a packet, so nothing can leak.
    for (const node of cluster().nodes) {
      const outside = await cluster().exec(node.netnsName, 'ip', ['route', 'get', '192.0.2.1']);
      expect(outside.stderr).toMatch(/unreachable/i);
      const otherPod = await cluster().exec(node.netnsName, 'ip', [
        'route',
        'get',
        only(cluster().pods, 3).ip,
      ]);
      expect(otherPod.code).toBe(0);
    }
  });

  it('runs exec to its end and reports a failing exit code without throwing', async () => {
    const pod = only(cluster().pods, 0);
    const result = await cluster().exec(pod.netnsName, process.execPath, ['-e', 'process.exit(3)']);
    expect(result.code).toBe(3);
  });

  it('kills an exec that runs past its timeout', async () => {
    const pod = only(cluster().pods, 0);
    await expect(
      cluster().exec(pod.netnsName, process.execPath, ['-e', KEEP_RUNNING], { timeoutMs: 200 }),
    ).rejects.toThrow(/did not finish within 200 ms/);
  });

  it('refuses to run in a namespace that is not its own', async () => {
    await expect(cluster().exec('somewhere-else', 'true')).rejects.toThrow(
      /is not a namespace of netns cluster/,
    );
    expect(() => cluster().spawn('somewhere-else', 'true')).toThrow(/is not a namespace/);
  });
});

describe('NetnsCluster with IPv6', () => {
  const cluster = useNetnsCluster({ nodes: 2, podsPerNode: 2, prefix: PREFIX, ipv6: true });

  it('has IPv6 here (CI kernels do; without it this fails rather than skips)', () => {
    expect(cluster().ipv6).toBe(true);
    expect(cluster().pods.map((pod) => pod.ipv6)).toEqual([
      'fd00:99:1::2',
      'fd00:99:1::3',
      'fd00:99:2::2',
      'fd00:99:2::3',
    ]);
    expect(cluster().nodes.map((node) => node.ipv6)).toEqual(['fd00:99::1', 'fd00:99::2']);
  });

  it.each([
    ['one node', 1],
    ['different nodes', 3],
  ])('carries TCP over IPv6 between pods of %s, usable at once (no DAD)', async (_label, serverIndex) => {
    const client = only(cluster().pods, 0);
    const server = only(cluster().pods, serverIndex);
    const clientIp = client.ipv6 ?? 'missing';
    const serverIp = server.ipv6 ?? 'missing';
    const port = await startEchoServer(cluster(), server.netnsName, serverIp);
    const reply = await echoVia(cluster(), client, serverIp, port, 'v6');
    expect(reply).toMatchObject({ code: 0, stdout: `${clientIp}|v6` });
  });

  it('still carries IPv4 alongside', async () => {
    const client = only(cluster().pods, 0);
    const server = only(cluster().pods, 3);
    const port = await startEchoServer(cluster(), server.netnsName, server.ip);
    expect(await echoVia(cluster(), client, server.ip, port, 'v4')).toMatchObject({
      stdout: `${client.ip}|v4`,
    });
  });
});

describe('NetnsCluster teardown', () => {
  let hostLinksBefore: string[] = [];
  let cluster: NetnsCluster | undefined;
  let sleeper: ChildProcess | undefined;

  beforeAll(async () => {
    hostLinksBefore = await hostLinkNames();
    cluster = await NetnsCluster.create({ nodes: 2, podsPerNode: 2, prefix: PREFIX });
    sleeper = cluster.spawn(only(cluster.pods, 0).netnsName, process.execPath, ['-e', KEEP_RUNNING]);
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('kills spawned processes, deletes every namespace and the host keeps its interfaces', async () => {
    if (!cluster || !sleeper) throw new Error('setup failed');
    const exited = once(sleeper, 'exit');
    expect((await netnsNames()).filter((name) => name.startsWith(`${cluster?.id ?? ''}-`))).toHaveLength(7);
    await cluster.destroy();
    await exited;
    expect(sleeper.signalCode).toBe('SIGKILL');
    expect((await netnsNames()).filter((name) => name.startsWith(`${cluster?.id ?? ''}-`))).toEqual([]);
    expect(await hostLinkNames()).toEqual(hostLinksBefore);
  });

  it('is idempotent and refuses work afterwards', async () => {
    if (!cluster) throw new Error('setup failed');
    await expect(cluster.destroy()).resolves.toBeUndefined();
    await expect(cluster.exec(only(cluster.pods, 0).netnsName, 'true')).rejects.toThrow(/destroyed/);
  });
});

describe('NetnsCluster.sweep', () => {
  const SWEEP_PREFIX = 'netnssweep';
  const leftover = `${SWEEP_PREFIX}-dead00-n0p0`;
  const unrelated = `${SWEEP_PREFIX}x-dead00-net`;
  const live = useNetnsCluster({ nodes: 1, podsPerNode: 1, prefix: SWEEP_PREFIX });
  let stray: ChildProcess | undefined;

  afterAll(async () => {
    if (stray?.pid !== undefined && stray.exitCode === null && stray.signalCode === null)
      stray.kill('SIGKILL');
    for (const name of [leftover, unrelated])
      await runFile('ip', ['netns', 'delete', name]).catch(() => undefined);
  });

  it('removes a crashed run’s namespaces and kills what runs in them; live clusters and other prefixes stay', async () => {
    await runFile('ip', ['netns', 'add', leftover]);
    await runFile('ip', ['netns', 'add', unrelated]);
    // A process still inside would keep the namespace alive after its name is gone.
    stray = spawn('ip', ['netns', 'exec', leftover, process.execPath, '-e', KEEP_RUNNING], {
      stdio: 'ignore',
    });
    const strayExited = once(stray, 'exit');
    const liveProcess = live().spawn(only(live().pods, 0).netnsName, process.execPath, ['-e', KEEP_RUNNING]);
    // Wait until the stray runs inside the leftover namespace, so sweep can find it there.
    await expect
      .poll(async () => (await runFile('ip', ['netns', 'pids', leftover])).stdout.trim())
      .not.toBe('');

    const removed = await NetnsCluster.sweep(SWEEP_PREFIX);

    // Leftovers of earlier crashed runs of this test may go too; the live cluster never does.
    expect(removed).toContain(leftover);
    expect(removed.filter((name) => live().namespaces.includes(name))).toEqual([]);
    const remaining = await netnsNames();
    expect(remaining).not.toContain(leftover);
    expect(remaining).toContain(unrelated);
    for (const name of live().namespaces) expect(remaining).toContain(name);
    expect(await strayExited).toEqual([null, 'SIGKILL']);
    expect(liveProcess.exitCode).toBeNull();
    expect(liveProcess.signalCode).toBeNull();
  });

  it('refuses a prefix that is not a plain name', async () => {
    await expect(NetnsCluster.sweep('.*')).rejects.toThrow(/netns prefix/);
  });
});
