import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { ErrorCode, createLogger, isMeshError } from '@ambient/core';
import { installInpodRules, ZdsServer, type WorkloadInfo, type ZdsSnapshotEntry } from '@ambient/redirect';
import { TestPki, type NetnsCluster, type NetnsPod } from '@ambient/testing';
import { parseConfig, startZtunnel, type Ztunnel } from '@ambient/ztunnel';
import { ECHO_SERVER } from './pod-scripts.js';

/** How a test pod takes part: its workload's service account, and whether its node captures it. */
export interface PodRole {
  readonly pod: NetnsPod;
  readonly serviceAccount: string;
  /** In the mesh: in-pod rules installed, handed to its node's ztunnel, reached over HBONE. */
  readonly captured: boolean;
}

/** A test pod as the mesh knows it. */
export interface MeshPod extends PodRole {
  /** The pod's UID, as istio-cni sends it over ZDS. */
  readonly uid: string;
  readonly info: WorkloadInfo;
  readonly identity: string;
  /** An fd of the pod's namespace, held as the node agent holds one for every pod. */
  readonly netnsFd: number;
}

/** Log lines of a ztunnel, kept for the test to read (and to print when something fails). */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];

  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    callback();
  }
}

/** How often the fake node agent retries an Add ztunnel nacked (istio-cni: 5 s; shorter here). */
const ADD_RETRY_INTERVAL_MS = 100;
const ADD_RETRY_ATTEMPTS = 50;

/**
 * istio-cni's node agent for one node, reduced to what ztunnel sees: the pod's rules installed
 * before it is handed over, a ZDS server whose snapshot is the node's current pods, Adds retried
 * while ztunnel nacks them, Dels.
 */
export class FakeNodeAgent {
  private readonly enrolled = new Map<string, MeshPod>();
  private readonly server: ZdsServer;

  constructor(
    readonly path: string,
    pods: readonly MeshPod[],
  ) {
    for (const pod of pods) this.enrolled.set(pod.uid, pod);
    this.server = ZdsServer.listen({ path, snapshot: () => this.snapshot() });
  }

  /** Resolves once a connected ztunnel has acked its whole snapshot. */
  ready(): Promise<void> {
    return this.server.ready();
  }

  /**
   * Hands a pod (again) to ztunnel and retries while ztunnel nacks it, as istio-cni does;
   * `onNack` sees each refusal's text. Rejects with the last refusal when retries run out.
   */
  async add(pod: MeshPod, onNack: (reason: string) => void = () => undefined): Promise<void> {
    this.enrolled.set(pod.uid, pod);
    let last: unknown;
    for (let attempt = 0; attempt < ADD_RETRY_ATTEMPTS; attempt++) {
      try {
        await this.server.add(pod.uid, pod.info, pod.netnsFd);
        return;
      } catch (err) {
        if (!isMeshError(err, ErrorCode.ZdsRejected) && !isMeshError(err, ErrorCode.ZdsUnavailable))
          throw err;
        last = err;
        onNack(err.message);
        await new Promise((resolve) => setTimeout(resolve, ADD_RETRY_INTERVAL_MS));
      }
    }
    throw last;
  }

  /** The pod is gone: ztunnel is told to drop it. */
  async del(pod: MeshPod): Promise<void> {
    this.enrolled.delete(pod.uid);
    await this.server.del(pod.uid);
  }

  close(): void {
    this.server.close();
  }

  private snapshot(): ZdsSnapshotEntry[] {
    return [...this.enrolled.values()].map((pod) => ({ uid: pod.uid, info: pod.info, netnsFd: pod.netnsFd }));
  }
}

/** One node's ztunnel: in the test process (it reaches pods with setns), ports on 127.43.0.<n>. */
export interface NodeZtunnel {
  readonly node: string;
  readonly instanceIp: string;
  readonly agent: FakeNodeAgent;
  ztunnel: Ztunnel;
  logs: LogCapture;
}

/**
 * An ambient mesh on a netns cluster: certificates and a LOCAL_XDS_PATH file for the pods, one
 * in-pod ztunnel and one fake node agent per node, and an echo app in every pod.
 */
export class InpodMesh {
  readonly pods: readonly MeshPod[];
  readonly nodes: readonly NodeZtunnel[];
  private readonly apps: ChildProcess[] = [];
  /** Every ztunnel started, stopped ones too (shutdown is idempotent). */
  private readonly ztunnels: Ztunnel[] = [];
  private readonly agents: FakeNodeAgent[] = [];

  private constructor(
    private readonly cluster: NetnsCluster,
    private readonly dir: string,
    private readonly env: Record<string, string>,
    readonly pki: TestPki,
    pods: MeshPod[],
    nodes: NodeZtunnel[],
  ) {
    this.pods = pods;
    this.nodes = nodes;
  }

  static async create(cluster: NetnsCluster, roles: readonly PodRole[]): Promise<InpodMesh> {
    const dir = await mkdtemp(join(tmpdir(), 'inpod-'));
    const pki = await TestPki.create();
    const pods = roles.map((role): MeshPod => {
      const info = { name: role.pod.name, namespace: 'default', serviceAccount: role.serviceAccount };
      return {
        ...role,
        uid: randomUUID(),
        info,
        identity: `spiffe://cluster.local/ns/default/sa/${role.serviceAccount}`,
        netnsFd: openSync(role.pod.netnsPath, 'r'),
      };
    });
    const accounts = new Set(pods.map((pod) => pod.serviceAccount));
    await pki.writeCertificateDir(
      join(dir, 'certs'),
      [...accounts].map((serviceAccount) => ({ namespace: 'default', serviceAccount })),
    );
    const configPath = join(dir, 'mesh.yaml');
    await writeFile(configPath, stringify({ workloads: pods.map(localWorkload), services: [] }));
    for (const pod of pods) if (pod.captured) await installInpodRules(pod.pod.netnsPath);

    const env = {
      LOCAL_XDS_PATH: configPath,
      WORKLOAD_CERTS_DIR: join(dir, 'certs'),
      INPOD_ENABLED: 'true',
      UNSTABLE_ENABLE_SOCKS5: 'false',
      // Short, so removed pods and stopped ztunnels finish draining within a test.
      CONNECTION_TERMINATION_DEADLINE: '2s',
      LOG_LEVEL: 'debug',
    };
    const nodes: NodeZtunnel[] = [];
    const mesh = new InpodMesh(cluster, dir, env, pki, pods, nodes);
    try {
      for (const [index, node] of cluster.nodes.entries()) {
        const path = join(dir, `${node.name}.sock`);
        const agent = new FakeNodeAgent(
          path,
          pods.filter((pod) => pod.captured && pod.pod.node === node.name),
        );
        mesh.agents.push(agent);
        const instanceIp = `127.43.0.${String(index + 1)}`;
        const started = await mesh.startZtunnel(node.name, instanceIp, path);
        nodes.push({ node: node.name, instanceIp, agent, ...started });
        await agent.ready();
      }
      for (const pod of pods) await mesh.startApp(pod.pod);
    } catch (err) {
      await mesh.close();
      throw err;
    }
    return mesh;
  }

  pod(name: string): MeshPod {
    const pod = this.pods.find((candidate) => candidate.pod.name === name);
    if (pod === undefined) throw new Error(`no pod ${name}`);
    return pod;
  }

  nodeOf(pod: MeshPod): NodeZtunnel {
    const node = this.nodes.find((candidate) => candidate.node === pod.pod.node);
    if (node === undefined) throw new Error(`no ztunnel for ${pod.pod.node}`);
    return node;
  }

  /** Stops a node's ztunnel (a graceful drain) and starts a new one with the same config. */
  async restart(node: NodeZtunnel): Promise<void> {
    await node.ztunnel.shutdown();
    const started = await this.startZtunnel(node.node, node.instanceIp, node.agent.path);
    node.ztunnel = started.ztunnel;
    node.logs = started.logs;
    await node.agent.ready();
  }

  async close(): Promise<void> {
    await Promise.all(this.ztunnels.map((ztunnel) => ztunnel.shutdown()));
    for (const agent of this.agents) agent.close();
    for (const app of this.apps) app.kill('SIGKILL');
    for (const pod of this.pods) closeSync(pod.netnsFd);
    await rm(this.dir, { recursive: true, force: true });
  }

  /** An in-pod ztunnel of this mesh for `node`, taking pods from the node agent at `udsPath`. */
  async startZtunnel(
    node: string,
    instanceIp: string,
    udsPath: string,
  ): Promise<{ ztunnel: Ztunnel; logs: LogCapture }> {
    const logs = new LogCapture();
    const config = parseConfig({ ...this.env, NODE_NAME: node, INSTANCE_IP: instanceIp, INPOD_UDS: udsPath });
    const ztunnel = await startZtunnel(config, {
      logger: createLogger({ level: 'debug', destination: logs }),
    });
    this.ztunnels.push(ztunnel);
    return { ztunnel, logs };
  }

  /** A path in the mesh's folder, for sockets a test makes itself. */
  path(name: string): string {
    return join(this.dir, name);
  }

  private async startApp(pod: NetnsPod): Promise<void> {
    const app = this.cluster.spawn(pod.netnsName, process.execPath, ['-e', ECHO_SERVER]);
    this.apps.push(app);
    const stdout = app.stdout;
    if (stdout === null) throw new Error('the echo app has no stdout');
    const exited = once(app, 'exit').then(([code]) => {
      throw new Error(`the echo app in ${pod.name} exited (${String(code)}) before listening`);
    });
    // Killed at close, long after it listened: that exit is no failure.
    exited.catch(() => undefined);
    await Promise.race([once(stdout, 'data'), exited]);
  }
}

/** The pod as the LOCAL_XDS_PATH file describes it (its uid derived from cluster, namespace and name). */
function localWorkload(pod: MeshPod): Record<string, unknown> {
  return {
    name: pod.pod.name,
    namespace: 'default',
    serviceAccount: pod.serviceAccount,
    workloadIps: [pod.pod.ip, ...(pod.pod.ipv6 === undefined ? [] : [pod.pod.ipv6])],
    protocol: pod.captured ? 'HBONE' : 'TCP',
    node: pod.pod.node,
    canonicalName: pod.serviceAccount,
  };
}
