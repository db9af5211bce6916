import { randomUUID } from 'node:crypto';
import type { NetnsNode } from '@ambient/testing';
import type { MeshPod } from '../node-agent/pod.js';

/** Every pod's app listens here; the echo service maps port 80 to it. */
export const APP_PORT = 8080;
export const NAMESPACE = 'default';
/** Kubernetes' usual service range: no route leads there, so only capture makes a VIP work. */
export const ECHO_SERVICE = { name: 'echo', vip: '10.96.0.10', port: 80, targetPort: APP_PORT } as const;
/** Host numbers on the node network (the bridge), clear of the nodes (.1, .2, ...). */
const CONTROL_PLANE_HOST = 254;
const OUTSIDE_HOST = 253;
const NODE_NAMES = ['node-a', 'node-b'] as const;

export interface DemoPodSpec {
  readonly name: string;
  /** The `app` label: policies and the service select on it. */
  readonly app: string;
  readonly serviceAccount: string;
  /** In the mesh: the node agent captures it. `legacy` opts out (istio.io/dataplane-mode: none). */
  readonly captured: boolean;
}

/**
 * The pods of examples/mesh on two nodes of three pods: the callers and one echo endpoint on
 * node-a, the other echo endpoint, reviews and a pod outside the mesh on node-b.
 */
export const DEMO_PODS: readonly (readonly DemoPodSpec[])[] = [
  [
    { name: 'sleep', app: 'sleep', serviceAccount: 'sleep', captured: true },
    { name: 'productpage', app: 'productpage', serviceAccount: 'productpage', captured: true },
    { name: 'echo-v2', app: 'echo', serviceAccount: 'echo', captured: true },
  ],
  [
    { name: 'echo-v1', app: 'echo', serviceAccount: 'echo', captured: true },
    { name: 'reviews', app: 'reviews', serviceAccount: 'reviews', captured: true },
    { name: 'legacy', app: 'legacy', serviceAccount: 'legacy', captured: false },
  ],
];
export const NODE_COUNT = DEMO_PODS.length;
export const PODS_PER_NODE = Math.max(...DEMO_PODS.map((pods) => pods.length));

export interface DemoPod extends DemoPodSpec {
  /** The pod's UID, as ZDS and the Pod object carry it. */
  readonly uid: string;
  readonly node: string;
  readonly ip: string;
  readonly netnsName: string;
  readonly netnsPath: string;
}

export interface DemoNode {
  /** `node-a`: the Pods' spec.nodeName and the ztunnel's NODE_NAME. */
  readonly name: string;
  /** The ztunnel's INSTANCE_IP: its metrics, readiness and SOCKS5 listen here. */
  readonly ip: string;
  readonly netnsName: string;
  readonly pods: readonly DemoPod[];
}

export interface DemoPlan {
  readonly nodes: readonly DemoNode[];
  readonly pods: readonly DemoPod[];
  /** On the bridge: the control plane (xDS and CA, 15012), reached by every node. */
  readonly controlPlaneIp: string;
  /** On the bridge too: a server no workload has, for passthrough. */
  readonly outsideIp: string;
  /** The node network's prefix length, for the bridge addresses. */
  readonly nodeNetworkPrefix: number;
}

/** Puts the demo's pods on the cluster's namespaces, node by node, pod by pod. */
export function planDemo(clusterNodes: readonly NetnsNode[], newUid: () => string = randomUUID): DemoPlan {
  if (clusterNodes.length < NODE_COUNT) {
    throw new Error(
      `the demo needs ${String(NODE_COUNT)} nodes, the cluster has ${String(clusterNodes.length)}`,
    );
  }
  const nodes = DEMO_PODS.map((specs, nodeIndex): DemoNode => {
    const clusterNode = clusterNodes[nodeIndex];
    const name = NODE_NAMES[nodeIndex];
    if (clusterNode === undefined || name === undefined) throw new Error(`no node ${String(nodeIndex)}`);
    const pods = specs.map((spec, podIndex): DemoPod => {
      const clusterPod = clusterNode.pods[podIndex];
      if (clusterPod === undefined) throw new Error(`node ${name} has no pod ${String(podIndex)}`);
      return {
        ...spec,
        uid: newUid(),
        node: name,
        ip: clusterPod.ip,
        netnsName: clusterPod.netnsName,
        netnsPath: clusterPod.netnsPath,
      };
    });
    return { name, ip: clusterNode.ip, netnsName: clusterNode.netnsName, pods };
  });
  const first = nodes[0];
  if (first === undefined) throw new Error('no nodes');
  return {
    nodes,
    pods: nodes.flatMap((node) => node.pods),
    controlPlaneIp: hostOnNodeNetwork(first.ip, CONTROL_PLANE_HOST),
    outsideIp: hostOnNodeNetwork(first.ip, OUTSIDE_HOST),
    nodeNetworkPrefix: 24,
  };
}

/** `10.99.0.1`, 254 → `10.99.0.254`: the node network is a /24. */
function hostOnNodeNetwork(nodeIp: string, host: number): string {
  return `${nodeIp.split('.').slice(0, 3).join('.')}.${String(host)}`;
}

export function podNamed(plan: DemoPlan, name: string): DemoPod {
  const pod = plan.pods.find((candidate) => candidate.name === name);
  if (pod === undefined) throw new Error(`the demo plan has no pod ${name}`);
  return pod;
}

export function nodeNamed(plan: DemoPlan, name: string): DemoNode {
  const node = plan.nodes.find((candidate) => candidate.name === name);
  if (node === undefined) throw new Error(`the demo plan has no node ${name}`);
  return node;
}

export function identityOf(pod: DemoPodSpec): string {
  return `spiffe://cluster.local/ns/${NAMESPACE}/sa/${pod.serviceAccount}`;
}

/** The pods file of a node's agent: its captured pods, as the CNI plugin would have announced them. */
export function agentPodsOf(node: DemoNode): MeshPod[] {
  return node.pods
    .filter((pod) => pod.captured)
    .map((pod) => ({
      uid: pod.uid,
      name: pod.name,
      namespace: NAMESPACE,
      serviceAccount: pod.serviceAccount,
      netnsPath: pod.netnsPath,
    }));
}

/**
 * The control plane's CONFIG_DIR: the Kubernetes objects a cluster would hold, by file name.
 * What the scheduler and the CNI fill in (spec.nodeName, status.podIP) comes from the plan.
 */
export function meshObjects(plan: DemoPlan): Record<string, string> {
  return {
    'namespace.yaml': `apiVersion: v1
kind: Namespace
metadata:
  name: ${NAMESPACE}
  labels:
    istio.io/dataplane-mode: ambient
`,
    'pods.yaml': plan.pods.map(podObject).join('---\n'),
    'services.yaml': `apiVersion: v1
kind: Service
metadata:
  name: ${ECHO_SERVICE.name}
  namespace: ${NAMESPACE}
spec:
  clusterIP: ${ECHO_SERVICE.vip}
  clusterIPs: [${ECHO_SERVICE.vip}]
  selector:
    app: echo
  ports:
    - name: http
      port: ${String(ECHO_SERVICE.port)}
      targetPort: ${String(ECHO_SERVICE.targetPort)}
`,
    // Only productpage may call reviews.
    'policies.yaml': `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: reviews-callers
  namespace: ${NAMESPACE}
spec:
  selector:
    matchLabels:
      app: reviews
  action: ALLOW
  rules:
    - from:
        - source:
            principals: ['cluster.local/ns/${NAMESPACE}/sa/productpage']
`,
  };
}

function podObject(pod: DemoPod): string {
  const optOut = pod.captured ? '' : '\n    istio.io/dataplane-mode: none';
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${pod.name}
  namespace: ${NAMESPACE}
  uid: ${pod.uid}
  labels:
    app: ${pod.app}${optOut}
spec:
  serviceAccountName: ${pod.serviceAccount}
  nodeName: ${pod.node}
  containers:
    - name: app
      image: demo-app
      ports:
        - name: http
          containerPort: ${String(APP_PORT)}
status:
  phase: Running
  podIP: ${pod.ip}
  podIPs:
    - ip: ${pod.ip}
  conditions:
    - type: Ready
      status: 'True'
`;
}
