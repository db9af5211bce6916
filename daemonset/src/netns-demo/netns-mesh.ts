import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CA_ROOT_CERT_FILE, ISTIOD_DNS_NAMES } from '@ambient/control-plane';
import { NETNS_DIR, NetnsCluster } from '@ambient/testing';
import { writeNodeTokens } from '../local-mesh/ca-tokens.js';
import type { ProcessExit } from '../local-mesh/logged-child.js';
import { sleep } from '../local-mesh/logged-child.js';
import { formatPodsFile } from '../node-agent/pods-file.js';
import {
  agentPodsOf,
  APP_PORT,
  meshObjects,
  NODE_COUNT,
  planDemo,
  PODS_PER_NODE,
  type DemoPlan,
} from './demo-plan.js';
import { NetnsChild } from './netns-child.js';
import { NetnsHttp } from './netns-http.js';

/** Every namespace of the demo's cluster starts with it; a crashed run's leftovers are swept by it. */
export const DEMO_NETNS_PREFIX = 'ambient-demo';
const CONTROL_PLANE_PORT = 15012;
const ISTIOD_DNS_NAME = ISTIOD_DNS_NAMES[0] ?? 'istiod.istio-system.svc';
const STATS_PORT = 15020;
const READINESS_PORT = 15021;
const READINESS_POLL_MS = 100;
const HTTP_TIMEOUT_MS = 2_000;

const ZTUNNEL_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
const NODE_AGENT_MAIN = fileURLToPath(new URL('../node-agent/main.js', import.meta.url));
const POD_APP_MAIN = fileURLToPath(new URL('./pod-app.js', import.meta.url));

export interface StopResult extends ProcessExit {
  /** `ztunnel node-a`, `node agent node-b`, `control plane`. */
  readonly name: string;
  readonly role: 'ztunnel' | 'node agent' | 'control plane';
  readonly killed: boolean;
}

/**
 * Everything `npm run demo:netns` runs: a cluster of network namespaces (two nodes, three pods
 * each), our control plane on the cluster network, a node agent and an in-pod ztunnel in each
 * node's namespace, and each pod's app in its pod's namespace. Created empty, so a failed start
 * can still be stopped and destroyed.
 *
 * The temp dir: `mesh/` (the control plane's Kubernetes objects), `control-plane/` (its CA state
 * and token list), `tokens/`, `<node>/` (the node agent's pods file and the ZDS socket), and a
 * `.log`/`.stderr.log` pair per process.
 */
export class NetnsMesh {
  readonly ztunnels = new Map<string, NetnsChild>();
  readonly agents = new Map<string, NetnsChild>();
  private readonly apps: NetnsChild[] = [];
  private controlPlaneChild: NetnsChild | undefined;
  private http: NetnsHttp | undefined;

  private constructor(
    readonly cluster: NetnsCluster,
    readonly plan: DemoPlan,
    readonly dir: string,
  ) {}

  /** Builds the namespaces (sweeping a crashed run's) and the temp dir; starts nothing yet. */
  static async create(): Promise<NetnsMesh> {
    const cluster = await NetnsCluster.create({
      nodes: NODE_COUNT,
      podsPerNode: PODS_PER_NODE,
      prefix: DEMO_NETNS_PREFIX,
    });
    try {
      const dir = await mkdtemp(join(tmpdir(), 'netns-demo-'));
      return new NetnsMesh(cluster, planDemo(cluster.nodes), dir);
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
  }

  get controlPlane(): NetnsChild | undefined {
    return this.controlPlaneChild;
  }

  /** Every child, for log locations: control plane, apps, node agents, ztunnels. */
  get children(): NetnsChild[] {
    return [
      ...(this.controlPlaneChild ? [this.controlPlaneChild] : []),
      ...this.apps,
      ...this.agents.values(),
      ...this.ztunnels.values(),
    ];
  }

  /** `progress` is called before each phase with a line for the user. */
  async start(readyTimeoutMs: number, progress: (text: string) => void): Promise<void> {
    const plan = this.plan;
    this.http = new NetnsHttp(`${NETNS_DIR}/${this.cluster.networkNetnsName}`);
    progress(
      `cluster network: ${plan.controlPlaneIp} and ${plan.outsideIp} on the bridge, routes to every pod network`,
    );
    await this.wireClusterNetwork();

    progress('control plane: Kubernetes objects → xDS, and the CA');
    const configDir = join(this.dir, 'mesh');
    await mkdir(configDir);
    for (const [file, text] of Object.entries(meshObjects(plan)))
      await writeFile(join(configDir, file), text);
    const caDir = join(this.dir, 'control-plane');
    const tokens = await writeNodeTokens(
      plan.nodes.map((node) => node.name),
      caDir,
      join(this.dir, 'tokens'),
    );
    const caStateDir = join(caDir, 'state');
    const controlPlane = new NetnsChild({
      cluster: this.cluster,
      netnsName: this.cluster.networkNetnsName,
      name: 'control plane',
      script: controlPlaneMain(),
      env: {
        PATH: process.env.PATH ?? '',
        CA_LISTEN_ADDRESS: `${plan.controlPlaneIp}:${String(CONTROL_PLANE_PORT)}`,
        CA_STATE_DIR: caStateDir,
        CA_TOKENS_FILE: tokens.tokensFile,
        CONFIG_DIR: configDir,
        LOG_LEVEL: 'info',
      },
      logDir: this.dir,
    });
    this.controlPlaneChild = controlPlane;
    await controlPlane.waitForLog((line) => line.message === 'CA listening', 'CA listening', readyTimeoutMs);

    progress('apps: one per pod, inside its namespace, and one outside the mesh');
    for (const pod of plan.pods) this.apps.push(this.startApp(pod.netnsName, pod.name, pod.ip));
    this.apps.push(this.startApp(this.cluster.networkNetnsName, 'outside', plan.outsideIp));
    await Promise.all(
      this.apps.map((app) =>
        app.waitForLog((line) => line.message === 'app listening', 'app listening', readyTimeoutMs),
      ),
    );

    progress('node agents: in-pod rules in every captured pod, then ZDS to the ztunnel');
    for (const node of plan.nodes) {
      const nodeDir = join(this.dir, node.name);
      await mkdir(nodeDir);
      const podsFile = join(nodeDir, 'pods.yaml');
      await writeFile(podsFile, formatPodsFile(agentPodsOf(node)));
      this.agents.set(
        node.name,
        new NetnsChild({
          cluster: this.cluster,
          netnsName: node.netnsName,
          name: `node agent ${node.name}`,
          script: NODE_AGENT_MAIN,
          args: ['--pods', podsFile, '--socket', this.zdsSocket(node.name)],
          env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info' },
          logDir: this.dir,
        }),
      );
    }
    await Promise.all(
      [...this.agents.values()].map((agent) =>
        agent.waitForLog((line) => line.message === 'node agent ready', 'node agent ready', readyTimeoutMs),
      ),
    );

    progress('ztunnels: in-pod mode, one per node, certificates from the CA');
    for (const node of plan.nodes) {
      const tokenPath = tokens.tokenPaths.get(node.name);
      if (tokenPath === undefined) throw new Error(`no CA token was written for node ${node.name}`);
      const controlPlaneAddress = `${plan.controlPlaneIp}:${String(CONTROL_PLANE_PORT)}`;
      this.ztunnels.set(
        node.name,
        new NetnsChild({
          cluster: this.cluster,
          netnsName: node.netnsName,
          name: `ztunnel ${node.name}`,
          script: ZTUNNEL_MAIN,
          env: {
            PATH: process.env.PATH ?? '',
            NODE_NAME: node.name,
            INSTANCE_IP: node.ip,
            XDS_ADDRESS: `https://${controlPlaneAddress}`,
            // The name on the control plane's certificate, as ztunnel dials istiod: not an IP as TLS server name.
            ALT_XDS_HOSTNAME: ISTIOD_DNS_NAME,
            CA_ADDRESS: controlPlaneAddress,
            CA_ROOT_CA: join(caStateDir, CA_ROOT_CERT_FILE),
            AUTH_TOKEN: tokenPath,
            INPOD_ENABLED: 'true',
            INPOD_UDS: this.zdsSocket(node.name),
            LOG_LEVEL: 'info',
          },
          logDir: this.dir,
        }),
      );
    }
    await Promise.all(plan.nodes.map((node) => this.waitReady(node.name, node.ip, readyTimeoutMs)));
    // Ready means the snapshot is in; each pod acked means its listeners are up in its namespace.
    await Promise.all(
      plan.nodes.flatMap((node) => {
        const agent = this.agents.get(node.name);
        if (agent === undefined) throw new Error(`no node agent for ${node.name}`);
        return agentPodsOf(node).map((pod) =>
          agent.waitForLog(
            (line) => line.message === 'ztunnel acked the pod' && line.uid === pod.uid,
            `ztunnel acked ${pod.name}`,
            readyTimeoutMs,
          ),
        );
      }),
    );
  }

  /** A node's ztunnel metrics, read from the cluster network. */
  async fetchMetrics(node: string): Promise<string> {
    const ip = this.plan.nodes.find((candidate) => candidate.name === node)?.ip;
    if (ip === undefined || this.http === undefined) throw new Error(`no node ${node}`);
    const answer = await this.http.get(ip, STATS_PORT, '/metrics', HTTP_TIMEOUT_MS);
    if (answer.status !== 200) throw new Error(`${node} metrics answered ${String(answer.status)}`);
    return answer.body;
  }

  /**
   * SIGTERM to every ztunnel (they drain), then the node agents, the apps and last the control
   * plane, which a ztunnel may still ask for a certificate until it has stopped.
   */
  async stop(timeoutMs: number): Promise<StopResult[]> {
    const stopEach = (children: Iterable<NetnsChild>, role: StopResult['role']): Promise<StopResult[]> =>
      Promise.all(
        [...children].map(async (child) => ({ name: child.name, role, ...(await child.stop(timeoutMs)) })),
      );
    const results = [
      ...(await stopEach(this.ztunnels.values(), 'ztunnel')),
      ...(await stopEach(this.agents.values(), 'node agent')),
    ];
    await Promise.all(this.apps.map((app) => app.stop(timeoutMs)));
    if (this.controlPlaneChild) results.push(...(await stopEach([this.controlPlaneChild], 'control plane')));
    return results;
  }

  /** Deletes every namespace (killing what still runs there). Never throws. */
  async destroy(): Promise<void> {
    this.http?.close();
    await this.cluster.destroy();
  }

  async removeDir(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private zdsSocket(node: string): string {
    return join(this.dir, node, 'ztunnel.sock');
  }

  private startApp(netnsName: string, name: string, ip: string): NetnsChild {
    return new NetnsChild({
      cluster: this.cluster,
      netnsName,
      name: `app ${name}`,
      script: POD_APP_MAIN,
      args: [name, ip, String(APP_PORT)],
      env: { PATH: process.env.PATH ?? '' },
      logDir: this.dir,
    });
  }

  /**
   * The control plane and the outside server sit on the bridge, in the cluster network's own
   * namespace: every node reaches them directly; the routes let answers find the pods.
   */
  private async wireClusterNetwork(): Promise<void> {
    const network = this.cluster.networkNetnsName;
    const prefix = String(this.plan.nodeNetworkPrefix);
    const commands = [
      ['addr', 'add', `${this.plan.controlPlaneIp}/${prefix}`, 'dev', 'br0'],
      ['addr', 'add', `${this.plan.outsideIp}/${prefix}`, 'dev', 'br0'],
      ...this.cluster.nodes.map((node) => ['route', 'add', node.podCidr, 'via', node.ip]),
    ];
    for (const args of commands) {
      const result = await this.cluster.exec(network, 'ip', args);
      if (result.code !== 0) throw new Error(`ip ${args.join(' ')} in ${network}: ${result.stderr.trim()}`);
    }
  }

  private async waitReady(node: string, ip: string, timeoutMs: number): Promise<void> {
    const ztunnel = this.ztunnels.get(node);
    const http = this.http;
    if (!ztunnel || !http) throw new Error(`no ztunnel for ${node}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exit = ztunnel.exitStatus;
      if (exit !== undefined)
        throw new Error(`${ztunnel.name} exited during startup (${await ztunnel.describeExit(exit)})`);
      try {
        const answer = await http.get(ip, READINESS_PORT, '/healthz/ready', HTTP_TIMEOUT_MS);
        if (answer.status === 200) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline)
        throw new Error(`${ztunnel.name} was not ready within ${String(timeoutMs)} ms`);
      await sleep(READINESS_POLL_MS);
    }
  }
}

/** The control plane's binary, beside its package's entry point (packages/control-plane/dist/main.js). */
function controlPlaneMain(): string {
  return fileURLToPath(new URL('main.js', import.meta.resolve('@ambient/control-plane')));
}
