import {
  BRIDGE_INTERFACE,
  UPLINK_INTERFACE,
  bridgePortInterface,
  type ClusterPlan,
  type NetnsNode,
  type NetnsPod,
} from './plan.js';

// `ip -n <netns> -batch -` scripts, one per namespace: one process configures a whole namespace.
// Each veth is created with its peer already in the neighbouring namespace of the cluster, so no
// interface ever appears in the host's namespace, not even for a moment.
//
// With IPv6, every address is `nodad`: a tentative address cannot take part in neighbour
// discovery, which would stall the first packets for the second or so DAD takes. The automatic
// link-local address would be tentative too, so links get none (addrgenmode none) and those that
// carry traffic get a fixed one instead: a node forwarding a pod's packet solicits the next hop
// from its link-local address, and sends no solicitation at all without one.
const NODE_TO_POD_LINK_LOCAL = 'fe80::1';
const POD_LINK_LOCAL = 'fe80::2';
/** Unique on the node network, which all nodes share. */
const nodeLinkLocal = (nodeIndex: number): string => `fe80::${(nodeIndex + 1).toString(16)}`;

function ipv6Lines(enabled: boolean, lines: readonly string[]): readonly string[] {
  return enabled ? lines : [];
}

/** Lines for an IPv6 address that only exists when the cluster has IPv6. */
function withIpv6(address: string | undefined, lines: (address: string) => string[]): string[] {
  return address === undefined ? [] : lines(address);
}

/** The network namespace: the bridge and one port per node. */
export function networkBatch(plan: ClusterPlan): string {
  const lines = [
    'link set lo up',
    // No multicast snooping: a snooping bridge may hold back the neighbour solicitations IPv6
    // sends to multicast until it has seen MLD reports, and nothing here runs an MLD querier.
    `link add ${BRIDGE_INTERFACE} type bridge mcast_snooping 0`,
    ...ipv6Lines(plan.ipv6, [`link set ${BRIDGE_INTERFACE} addrgenmode none`]),
    `link set ${BRIDGE_INTERFACE} up`,
  ];
  plan.nodes.forEach((node, index) => {
    const port = bridgePortInterface(index);
    lines.push(
      `link add ${port} type veth peer name ${UPLINK_INTERFACE} netns ${node.netnsName}`,
      ...ipv6Lines(plan.ipv6, [`link set ${port} addrgenmode none`]),
      `link set ${port} master ${BRIDGE_INTERFACE}`,
      `link set ${port} up`,
    );
  });
  return lines.join('\n') + '\n';
}

/** A node: its uplink to the bridge, routes to the other nodes' pods, a veth per pod. */
export function nodeBatch(plan: ClusterPlan, node: NetnsNode): string {
  const lines = [
    'link set lo up',
    ...ipv6Lines(plan.ipv6, [
      `link set ${UPLINK_INTERFACE} addrgenmode none`,
      `addr add ${nodeLinkLocal(plan.nodes.indexOf(node))}/64 dev ${UPLINK_INTERFACE} nodad`,
    ]),
    `addr add ${node.ip}/24 dev ${UPLINK_INTERFACE}`,
    ...withIpv6(node.ipv6, (ip) => [`addr add ${ip}/64 dev ${UPLINK_INTERFACE} nodad`]),
    `link set ${UPLINK_INTERFACE} up`,
  ];
  for (const other of plan.nodes) {
    if (other === node) continue;
    lines.push(
      `route add ${other.podCidr} via ${other.ip} dev ${UPLINK_INTERFACE}`,
      ...withIpv6(other.ipv6, (ip) =>
        withIpv6(other.podCidrIpv6, (cidr) => [`route add ${cidr} via ${ip} dev ${UPLINK_INTERFACE}`]),
      ),
    );
  }
  for (const pod of node.pods) {
    const veth = pod.nodeInterface;
    lines.push(
      `link add ${veth} type veth peer name ${UPLINK_INTERFACE} netns ${pod.netnsName}`,
      ...ipv6Lines(plan.ipv6, [
        `link set ${veth} addrgenmode none`,
        `addr add ${NODE_TO_POD_LINK_LOCAL}/64 dev ${veth} nodad`,
      ]),
      // The same gateway address on every pod veth of the node: each pod sees one next hop.
      `addr add ${pod.gateway}/32 dev ${veth}`,
      ...withIpv6(pod.gatewayIpv6, (ip) => [`addr add ${ip}/128 dev ${veth} nodad`]),
      `link set ${veth} up`,
      `route add ${pod.ip}/32 dev ${veth} scope link`,
      ...withIpv6(pod.ipv6, (ip) => [`route add ${ip}/128 dev ${veth}`]),
    );
  }
  return lines.join('\n') + '\n';
}

/** A pod: one address, everything else via its node. */
export function podBatch(plan: ClusterPlan, pod: NetnsPod): string {
  const lines = [
    'link set lo up',
    ...ipv6Lines(plan.ipv6, [
      `link set ${UPLINK_INTERFACE} addrgenmode none`,
      `addr add ${POD_LINK_LOCAL}/64 dev ${UPLINK_INTERFACE} nodad`,
    ]),
    `addr add ${pod.ip}/32 dev ${UPLINK_INTERFACE}`,
    ...withIpv6(pod.ipv6, (ip) => [`addr add ${ip}/128 dev ${UPLINK_INTERFACE} nodad`]),
    `link set ${UPLINK_INTERFACE} up`,
    `route add ${pod.gateway}/32 dev ${UPLINK_INTERFACE} scope link`,
    `route add default via ${pod.gateway} dev ${UPLINK_INTERFACE}`,
    ...withIpv6(pod.gatewayIpv6, (gateway) => [
      `route add ${gateway}/128 dev ${UPLINK_INTERFACE}`,
      `route add default via ${gateway} dev ${UPLINK_INTERFACE}`,
    ]),
  ];
  return lines.join('\n') + '\n';
}

/** `sysctl -w` arguments for a node: it routes between its pods and the node network. */
export function nodeSysctls(ipv6: boolean): string[] {
  return ['net.ipv4.ip_forward=1', ...(ipv6 ? ['net.ipv6.conf.all.forwarding=1'] : [])];
}
