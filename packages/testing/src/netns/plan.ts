import { randomInt } from 'node:crypto';

/** Where `ip netns add` mounts a namespace; ZDS and setns take this path. */
export const NETNS_DIR = '/var/run/netns';
export const DEFAULT_NETNS_PREFIX = 'ambient';

// 10.99/16 and fd00:99::/32 only ever exist inside the cluster's own namespaces, so they cannot
// clash with the host's networks or with a cluster another test file builds at the same time.
const IPV4_NETWORK = '10.99';
const IPV6_NETWORK = 'fd00:99';
// Node n (1-based) is .n on the node network; its pods get the /24 (/64) numbered n; .1 (::1) of
// that range is the node's end of every pod veth, so pods start at .2.
const FIRST_POD_HOST = 2;
/** Node numbers and pod hosts are one IPv4 octet, and .0 / .255 are not hosts. */
export const MAX_NODES = 254;
export const MAX_PODS_PER_NODE = 255 - FIRST_POD_HOST;
const CLUSTER_ID_LENGTH = 6;
const CLUSTER_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
// Namespace names are file names, but short ones keep `ip netns list` and logs readable.
const MAX_PREFIX_LENGTH = 32;
const PREFIX_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/**
 * Interface names. Every interface is created directly inside one of the cluster's namespaces
 * (`ip -n`, veth peers with `netns`), never in the host's, so fixed short names cannot collide.
 */
export const BRIDGE_INTERFACE = 'br0';
/** A node's link to the bridge, and a pod's link to its node, as seen from inside. */
export const UPLINK_INTERFACE = 'eth0';
export const bridgePortInterface = (nodeIndex: number): string => `n${nodeIndex}`;
export const podVethInterface = (podIndex: number): string => `p${podIndex}`;

export interface NetnsClusterOptions {
  nodes: number;
  podsPerNode: number;
  /** Start of every namespace name; `sweep` removes leftovers by it. Default `ambient`. */
  prefix?: string;
  /** Also give every node and pod an fd00::/8 address, when the kernel has IPv6. */
  ipv6?: boolean;
}

export interface NetnsPod {
  /** Logical name, e.g. `node-0-pod-1`. */
  readonly name: string;
  readonly netnsName: string;
  /** `/var/run/netns/<netnsName>`. */
  readonly netnsPath: string;
  readonly ip: string;
  readonly ipv6?: string;
  /** Name of the node this pod runs on. */
  readonly node: string;
  /** The node's address on this pod's veth: the pod's default gateway. */
  readonly gateway: string;
  readonly gatewayIpv6?: string;
  /** The pod's interface name on the node side, inside the node's namespace. */
  readonly nodeInterface: string;
}

export interface NetnsNode {
  /** Logical name, e.g. `node-0`. */
  readonly name: string;
  readonly netnsName: string;
  readonly netnsPath: string;
  /** Address on the node network (the bridge). */
  readonly ip: string;
  readonly ipv6?: string;
  /** Every pod of this node has an address in this range. */
  readonly podCidr: string;
  readonly podCidrIpv6?: string;
  readonly pods: readonly NetnsPod[];
}

export interface ClusterPlan {
  /** `<prefix>-<random6>`: every namespace name starts with it. */
  readonly id: string;
  readonly prefix: string;
  readonly ipv6: boolean;
  /** The namespace holding the bridge that joins the nodes. */
  readonly networkNetnsName: string;
  readonly nodes: readonly NetnsNode[];
  /** Every namespace, network first, then each node followed by its pods. */
  readonly namespaces: readonly string[];
}

export function netnsPath(netnsName: string): string {
  return `${NETNS_DIR}/${netnsName}`;
}

export function randomClusterSuffix(): string {
  let suffix = '';
  for (let i = 0; i < CLUSTER_ID_LENGTH; i++) suffix += CLUSTER_ID_ALPHABET.charAt(randomInt(36));
  return suffix;
}

export function assertValidPrefix(prefix: string): void {
  if (prefix.length > MAX_PREFIX_LENGTH || !PREFIX_PATTERN.test(prefix)) {
    throw new Error(
      `netns prefix ${JSON.stringify(prefix)} must be lowercase letters and digits in dash-separated words, ` +
        `start with a letter and be at most ${MAX_PREFIX_LENGTH} characters`,
    );
  }
}

/** Matches every namespace name a cluster with this prefix makes; group 1 is the cluster id. */
export function clusterNetnsPattern(prefix: string): RegExp {
  assertValidPrefix(prefix);
  return new RegExp(`^(${prefix}-[a-z0-9]{${CLUSTER_ID_LENGTH}})-(?:net|n\\d+(?:p\\d+)?)$`);
}

/** Matches a cluster id with this prefix. */
export function clusterIdPattern(prefix: string): RegExp {
  assertValidPrefix(prefix);
  return new RegExp(`^${prefix}-[a-z0-9]{${CLUSTER_ID_LENGTH}}$`);
}

function assertCount(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`netns cluster ${what} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/** Names and addresses of the whole cluster; pure, so it is checked without root. */
export function planCluster(
  options: NetnsClusterOptions,
  suffix: string = randomClusterSuffix(),
  ipv6: boolean = options.ipv6 ?? false,
): ClusterPlan {
  const prefix = options.prefix ?? DEFAULT_NETNS_PREFIX;
  assertValidPrefix(prefix);
  assertCount('nodes', options.nodes, 1, MAX_NODES);
  assertCount('podsPerNode', options.podsPerNode, 0, MAX_PODS_PER_NODE);
  const id = `${prefix}-${suffix}`;
  if (!clusterIdPattern(prefix).test(id))
    throw new Error(`bad netns cluster suffix ${JSON.stringify(suffix)}`);

  const networkNetnsName = `${id}-net`;
  const namespaces = [networkNetnsName];
  const nodes: NetnsNode[] = [];
  for (let n = 0; n < options.nodes; n++) {
    const nodeNumber = n + 1;
    const nodeHex = nodeNumber.toString(16);
    const nodeName = `node-${n}`;
    const nodeNetns = `${id}-n${n}`;
    namespaces.push(nodeNetns);
    const gateway = `${IPV4_NETWORK}.${nodeNumber}.1`;
    const gatewayIpv6 = `${IPV6_NETWORK}:${nodeHex}::1`;
    const pods: NetnsPod[] = [];
    for (let p = 0; p < options.podsPerNode; p++) {
      const host = p + FIRST_POD_HOST;
      const podNetns = `${id}-n${n}p${p}`;
      namespaces.push(podNetns);
      pods.push({
        name: `${nodeName}-pod-${p}`,
        netnsName: podNetns,
        netnsPath: netnsPath(podNetns),
        ip: `${IPV4_NETWORK}.${nodeNumber}.${host}`,
        ...(ipv6 ? { ipv6: `${IPV6_NETWORK}:${nodeHex}::${host.toString(16)}` } : {}),
        node: nodeName,
        gateway,
        ...(ipv6 ? { gatewayIpv6 } : {}),
        nodeInterface: podVethInterface(p),
      });
    }
    nodes.push({
      name: nodeName,
      netnsName: nodeNetns,
      netnsPath: netnsPath(nodeNetns),
      ip: `${IPV4_NETWORK}.0.${nodeNumber}`,
      ...(ipv6 ? { ipv6: `${IPV6_NETWORK}::${nodeHex}` } : {}),
      podCidr: `${IPV4_NETWORK}.${nodeNumber}.0/24`,
      ...(ipv6 ? { podCidrIpv6: `${IPV6_NETWORK}:${nodeHex}::/64` } : {}),
      pods,
    });
  }
  return { id, prefix, ipv6, networkNetnsName, nodes, namespaces };
}
