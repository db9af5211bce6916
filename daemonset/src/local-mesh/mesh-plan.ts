import { isIPv4 } from 'node:net';
import { CA_PORT, type SourceProblem } from '@ambient/control-plane';
import { ErrorCode, MeshError, type SocketAddress } from '@ambient/core';
import { DEFAULT_TRUST_DOMAIN, type Service, type StateSnapshot, type Workload } from '@ambient/state';
import { readMeshFolder, type MeshConfig } from './mesh-folder.js';

/** Every demo app listens here on its pod IP; the example's services map their ports to it. */
export const APP_PORT = 8080;
/** A server that is no workload of the mesh, to show passthrough. */
export const OUTSIDE_APP = { name: 'outside', ip: '127.0.3.1', port: APP_PORT } as const;
/** Node ztunnels get 127.0.0.11, .12, ...: clear of 127.0.0.1, which other tools on the machine use. */
const FIRST_NODE_HOST_OCTET = 11;
/**
 * The control plane's CA, just below the nodes: clear of 127.0.0.1 (its default, and where a real
 * istiod port-forward would sit) and of every address the plan hands out. Istio's port.
 */
export const CA_LISTEN: SocketAddress = Object.freeze({ ip: '127.0.0.10', port: CA_PORT });
const LAST_HOST_OCTET = 254;

export interface NodePlan {
  readonly name: string;
  /** The ztunnel's INSTANCE_IP: admin, metrics, readiness and SOCKS5 bind here. */
  readonly instanceIp: string;
  readonly workloads: readonly Workload[];
  /** SPIFFE ids of its workloads in the mesh (HBONE), once each: its ztunnel gets a certificate for each. */
  readonly meshIdentities: readonly string[];
}

/** A node the launcher runs a ztunnel for. */
export type NodeAddress = Pick<NodePlan, 'name' | 'instanceIp'>;

export interface MeshPlan {
  /** The folder of Kubernetes YAML the control plane serves (its CONFIG_DIR). */
  readonly configDir: string;
  /** The folder converted as the control plane converts it: what the ztunnels get over xDS. */
  readonly snapshot: StateSnapshot;
  readonly nodes: readonly NodePlan[];
  /** Workloads on a node that has no ztunnel here (one added to the folder while the mesh runs). */
  readonly unplaced: readonly Workload[];
  /** What the control plane reports about the folder (it serves everything else). */
  readonly problems: readonly SourceProblem[];
}

/**
 * Decides what the launcher runs for the mesh a folder describes: one ztunnel per node (sorted by
 * name, addresses from 127.0.0.11), each needing a certificate from the CA for every mesh identity
 * on its node. Given the nodes already running, keeps them and their addresses (their ztunnels
 * cannot move) and lists workloads on other nodes as unplaced. Refuses anything that would leave
 * loopback.
 */
export function planMesh(config: MeshConfig, configDir: string, running?: readonly NodeAddress[]): MeshPlan {
  const { snapshot } = config;
  const problems: string[] = [];
  for (const workload of snapshot.workloads) {
    for (const ip of workload.workloadIps) {
      if (!isLoopbackV4(ip)) problems.push(`workload ${workload.name}: ${ip} is not in 127.0.0.0/8`);
    }
    if (workload.node === '') problems.push(`workload ${workload.name}: no node`);
    if (workload.trustDomain !== DEFAULT_TRUST_DOMAIN) {
      problems.push(`workload ${workload.name}: the local CA issues only ${DEFAULT_TRUST_DOMAIN} identities`);
    }
  }
  for (const service of snapshot.services) {
    for (const vip of service.vips) {
      if (!isLoopbackV4(vip.ip))
        problems.push(`service ${service.hostname}: VIP ${vip.ip} is not in 127.0.0.0/8`);
    }
  }
  const addresses = running ?? nodeAddresses(snapshot.workloads);
  if (addresses.length > LAST_HOST_OCTET - FIRST_NODE_HOST_OCTET + 1) problems.push('too many nodes');
  if (problems.length > 0) {
    throw new MeshError(ErrorCode.ConfigInvalid, `${configDir}:\n  ${problems.join('\n  ')}`);
  }

  const nodes = addresses.map(({ name, instanceIp }) => {
    const workloads = snapshot.workloads.filter((w) => w.node === name);
    return {
      name,
      instanceIp,
      workloads,
      meshIdentities: [
        ...new Set(workloads.filter((w) => w.tunnelProtocol === 'HBONE').map((w) => w.identity)),
      ],
    };
  });
  const placed = new Set(addresses.map((node) => node.name));
  const unplaced = snapshot.workloads.filter((w) => !placed.has(w.node));
  return { configDir, snapshot, nodes, unplaced, problems: config.problems };
}

/** Every node some workload names, sorted, on 127.0.0.11, .12, ... */
function nodeAddresses(workloads: readonly Workload[]): NodeAddress[] {
  const names = [...new Set(workloads.map((w) => w.node).filter((node) => node !== ''))].sort();
  return names.map((name, index) => ({
    name,
    instanceIp: `127.0.0.${String(FIRST_NODE_HOST_OCTET + index)}`,
  }));
}

export function workloadNamed(plan: MeshPlan, name: string): Workload | undefined {
  return plan.snapshot.workloads.find((w) => w.name === name);
}

export function serviceNamed(plan: MeshPlan, hostname: string): Service | undefined {
  return plan.snapshot.services.find((s) => s.hostname === hostname);
}

/** The workloads that back a service (those that list it), by uid. */
export function endpointsOf(plan: MeshPlan, service: Service): Workload[] {
  return plan.snapshot.workloads.filter((w) => w.services.has(service.key));
}

export function nodeOf(plan: MeshPlan, workload: Workload): NodePlan | undefined {
  return plan.nodes.find((node) => node.name === workload.node);
}

function isLoopbackV4(ip: string): boolean {
  return isIPv4(ip) && ip.startsWith('127.');
}

/** The plan of a folder as it is now, read once (for tests and one-shot tools). */
export async function planFolder(dir: string): Promise<MeshPlan> {
  return planMesh(await readMeshFolder(dir), dir);
}
