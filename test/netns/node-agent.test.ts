import { statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Backoff, createLogger } from '@ambient/core';
import {
  closeFd,
  netnsInode,
  ZdsClient,
  type WorkloadInfo,
  type ZdsWorkloadHandler,
} from '@ambient/redirect';
import type { NetnsCluster, NetnsPod } from '@ambient/testing';
import { useNetnsCluster } from '../../packages/testing/src/netns/vitest.js';
import { NodeAgent } from '../../daemonset/src/node-agent/node-agent.js';
import type { MeshPod } from '../../daemonset/src/node-agent/pod.js';
import { formatPodsFile } from '../../daemonset/src/node-agent/pods-file.js';
import { watchPodsFile } from '../../daemonset/src/node-agent/pods-file-watch.js';
import { PodSync } from '../../daemonset/src/node-agent/pod-sync.js';

// Our node agent (istio-cni's part) against a fake ztunnel: redirect's ZdsClient with a handler
// that records every request and checks which namespace each Add's fd refers to. Real namespaces,
// real iptables: root only, and a failure (not a skip) otherwise.

const NEEDS_ROOT = 'the node agent tests need root (network namespaces, iptables); CI runs them as root';
/** Short, so the retry test does not wait istio-cni's 5 s; the behaviour is the same. */
const RETRY_INTERVAL_MS = 100;

const cluster = useNetnsCluster({ nodes: 1, podsPerNode: 3, prefix: 'nodeagent' });
let dir = '';
let sockets = 0;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  expect(process.getuid?.(), NEEDS_ROOT).toBe(0);
  dir = await mkdtemp(join(tmpdir(), 'node-agent-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

function podAt(index: number): NetnsPod {
  const pod = cluster().pods[index];
  if (pod === undefined) throw new Error(`no pod ${String(index)}`);
  return pod;
}

function meshPod(index: number): MeshPod {
  const pod = podAt(index);
  return {
    uid: `uid-${pod.name}`,
    name: pod.name,
    namespace: 'default',
    serviceAccount: `sa-${String(index)}`,
    netnsPath: pod.netnsPath,
  };
}

function startAgent(): NodeAgent {
  const agent = NodeAgent.start({
    socketPath: join(dir, `zds-${String(sockets++)}.sock`),
    retryIntervalMs: RETRY_INTERVAL_MS,
    logger: createLogger({ level: 'silent' }),
  });
  cleanups.push(async () => {
    await agent.close();
    // What a test left captured goes, so the next test starts from clean pods.
    for (const pod of agent.enrolled) await agent.removePod(pod.uid).catch(() => undefined);
  });
  return agent;
}

interface FakeZtunnel {
  /** `add <uid> <name> <ns>/<sa> <netns of the fd>`, `del <uid>`, `keep <uid>`, `snapshot sent`. */
  readonly calls: string[];
  stop(): Promise<void>;
}

/** Which cluster pod a netns fd refers to, by inode, as ztunnel tells namespaces apart. */
function netnsNameOf(fd: number, c: NetnsCluster): string {
  const inode = netnsInode(fd);
  const pod = c.pods.find((candidate) => {
    const stat = statSync(candidate.netnsPath);
    return stat.ino === inode.ino && stat.dev === inode.dev;
  });
  return pod === undefined ? 'an unknown netns' : `netns of ${pod.name}`;
}

/** A ztunnel stand-in: acks everything but the first `failures.get(uid)` Adds of each uid. */
function startFakeZtunnel(agent: NodeAgent, failures = new Map<string, number>()): FakeZtunnel {
  const calls: string[] = [];
  const handler: ZdsWorkloadHandler = {
    add(uid: string, info: WorkloadInfo, netnsFd: number) {
      calls.push(
        `add ${uid} ${info.name} ${info.namespace}/${info.serviceAccount} ${netnsNameOf(netnsFd, cluster())}`,
      );
      const left = failures.get(uid) ?? 0;
      if (left > 0) {
        failures.set(uid, left - 1);
        return Promise.reject(new Error('listeners not ready'));
      }
      closeFd(netnsFd);
      return Promise.resolve();
    },
    keep(uid: string) {
      calls.push(`keep ${uid}`);
    },
    del(uid: string) {
      calls.push(`del ${uid}`);
      return Promise.resolve();
    },
    snapshotSent() {
      calls.push('snapshot sent');
      return Promise.resolve();
    },
  };
  const client = new ZdsClient({ path: agent.socketPath, handler, backoff: new Backoff(10, 100, 0) });
  client.start();
  cleanups.push(() => client.stop());
  return { calls, stop: () => client.stop() };
}

async function inPod(pod: NetnsPod, command: string, args: string[]): Promise<string> {
  const result = await cluster().exec(pod.netnsName, command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} in ${pod.name}: ${result.stderr}`);
  return result.stdout;
}

/** The pod's capture state, as an operator would look at it. */
async function captureState(pod: NetnsPod): Promise<{ iptables: string; ipRules: string }> {
  return {
    iptables: await inPod(pod, 'iptables-nft-save', []),
    ipRules: await inPod(pod, 'ip', ['rule', 'show']),
  };
}

async function eventually(check: () => void, attempts = 200, delayMs = 25): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      check();
      return;
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

describe('the node agent (istio-cni’s part)', () => {
  it('installs the in-pod rules in the pod namespace and hands ztunnel an fd of that namespace', async () => {
    const agent = startAgent();
    const ztunnel = startFakeZtunnel(agent);
    await agent.ready();
    expect(ztunnel.calls).toEqual(['snapshot sent']);

    expect(await agent.addPod(meshPod(0))).toBe('acked');
    expect(ztunnel.calls.slice(1)).toEqual([
      `add uid-${podAt(0).name} ${podAt(0).name} default/sa-0 netns of ${podAt(0).name}`,
    ]);

    const { iptables, ipRules } = await captureState(podAt(0));
    for (const rule of [
      ':ISTIO_PRERT - [0:0]',
      ':ISTIO_OUTPUT - [0:0]',
      '-A PREROUTING -j ISTIO_PRERT',
      '-A OUTPUT -j ISTIO_OUTPUT',
      '-A ISTIO_PRERT -m mark --mark 0x539/0xfff -j CONNMARK --set-xmark 0x111/0xfff',
      '--to-ports 15001',
      '--to-ports 15006',
    ]) {
      expect(iptables).toContain(rule);
    }
    expect(ipRules).toMatch(/32764:\s+from all fwmark 0x111\/0xfff lookup 100/);
    expect(await inPod(podAt(0), 'ip', ['route', 'show', 'table', '100'])).toContain('local default dev lo');
    // Only that pod: its neighbours are untouched.
    expect((await captureState(podAt(1))).iptables).not.toContain('ISTIO');
  });

  it('adding a pod again leaves one copy of its rules and sends another Add (ztunnel takes it as the same pod)', async () => {
    const agent = startAgent();
    const ztunnel = startFakeZtunnel(agent);
    await agent.ready();
    await agent.addPod(meshPod(0));
    await agent.addPod(meshPod(0));
    const { iptables } = await captureState(podAt(0));
    expect(iptables.split('\n').filter((line) => line === '-A OUTPUT -j ISTIO_OUTPUT')).toHaveLength(2); // mangle and nat
    expect(ztunnel.calls.filter((call) => call.startsWith('add '))).toHaveLength(2);
    expect(agent.enrolled.map((pod) => pod.uid)).toEqual([`uid-${podAt(0).name}`]);
  });

  it('sends every pod to a ztunnel that connects, and again to one that reconnects, then SnapshotSent', async () => {
    const agent = startAgent();
    expect(await agent.addPod(meshPod(0))).toBe('no-ztunnel');
    expect(await agent.addPod(meshPod(1))).toBe('no-ztunnel');

    const first = startFakeZtunnel(agent);
    await agent.ready();
    const snapshot = [
      `add uid-${podAt(0).name} ${podAt(0).name} default/sa-0 netns of ${podAt(0).name}`,
      `add uid-${podAt(1).name} ${podAt(1).name} default/sa-1 netns of ${podAt(1).name}`,
      'snapshot sent',
    ];
    expect(first.calls).toEqual(snapshot);

    await first.stop();
    await eventually(() => {
      expect(agent.connectedZtunnels).toBe(0);
    });
    const second = startFakeZtunnel(agent);
    await eventually(() => {
      expect(second.calls).toEqual(snapshot);
    });
  });

  it('removing a pod sends Del and removes exactly its rules, routing rule and route', async () => {
    const agent = startAgent();
    const ztunnel = startFakeZtunnel(agent);
    await agent.ready();
    await agent.addPod(meshPod(2));
    expect((await captureState(podAt(2))).iptables).toContain('ISTIO_OUTPUT');

    expect(await agent.removePod(`uid-${podAt(2).name}`)).toBe(true);
    expect(ztunnel.calls.at(-1)).toBe(`del uid-${podAt(2).name}`);
    const { iptables, ipRules } = await captureState(podAt(2));
    expect(iptables).not.toContain('ISTIO');
    expect(iptables).not.toContain('REDIRECT');
    expect(ipRules).not.toContain('lookup 100');
    expect(agent.enrolled).toEqual([]);
    // Unknown pods are nobody's business.
    expect(await agent.removePod('no-such-uid')).toBe(false);
  });

  it('retries an Add ztunnel refused until it is taken, in steady state and in the snapshot', async () => {
    const steady = `uid-${podAt(0).name}`;
    const inSnapshot = `uid-${podAt(1).name}`;
    const agent = startAgent();
    expect(await agent.addPod(meshPod(1))).toBe('no-ztunnel');
    const ztunnel = startFakeZtunnel(
      agent,
      new Map([
        [steady, 2],
        [inSnapshot, 1],
      ]),
    );
    await agent.ready();
    expect(await agent.addPod(meshPod(0))).toBe('rejected');
    await eventually(() => {
      expect(agent.pendingRetries).toEqual([]);
      expect(ztunnel.calls.filter((call) => call.startsWith(`add ${steady} `))).toHaveLength(3);
      expect(ztunnel.calls.filter((call) => call.startsWith(`add ${inSnapshot} `))).toHaveLength(2);
    });
    // Taken at last: no further tries.
    await new Promise((resolve) => setTimeout(resolve, RETRY_INTERVAL_MS * 3));
    expect(ztunnel.calls.filter((call) => call.startsWith('add '))).toHaveLength(5);
  });

  it('follows a pods file: an entry added captures its pod, an entry removed releases it', async () => {
    const agent = startAgent();
    const ztunnel = startFakeZtunnel(agent);
    await agent.ready();
    const path = join(dir, 'pods.yaml');
    await writeFile(path, formatPodsFile([meshPod(0)]));
    const logLines: string[] = [];
    const logger = createLogger({
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString('utf8'));
          done();
        },
      }),
    });
    const sync = new PodSync(agent, logger);
    const watch = watchPodsFile(
      path,
      (pods) => {
        void sync.apply(pods);
      },
      logger,
    );
    cleanups.push(() => {
      watch.close();
    });
    await sync.apply([meshPod(0)]);
    expect(agent.enrolled.map((pod) => pod.name)).toEqual([podAt(0).name]);

    await writeFile(path, formatPodsFile([meshPod(1)]));
    await eventually(() => {
      expect(agent.enrolled.map((pod) => pod.name)).toEqual([podAt(1).name]);
      expect(ztunnel.calls.slice(-2)).toEqual([
        `del uid-${podAt(0).name}`,
        `add uid-${podAt(1).name} ${podAt(1).name} default/sa-1 netns of ${podAt(1).name}`,
      ]);
    });
    expect((await captureState(podAt(0))).iptables).not.toContain('ISTIO');
    expect((await captureState(podAt(1))).iptables).toContain('ISTIO_OUTPUT');

    // A broken edit changes nothing.
    await writeFile(path, '- uid: [broken\n');
    await eventually(() => {
      expect(logLines.join('')).toContain('invalid pods file: keeping the pods as they are');
    });
    expect(agent.enrolled.map((pod) => pod.name)).toEqual([podAt(1).name]);
  });
});
