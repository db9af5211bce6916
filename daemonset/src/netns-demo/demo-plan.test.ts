import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { planCluster } from '../../../packages/testing/src/netns/plan.js';
import {
  agentPodsOf,
  ECHO_SERVICE,
  meshObjects,
  NODE_COUNT,
  planDemo,
  PODS_PER_NODE,
  podNamed,
} from './demo-plan.js';

const cluster = planCluster({ nodes: NODE_COUNT, podsPerNode: PODS_PER_NODE }, 'abc123');
let uids = 0;
const plan = planDemo(cluster.nodes, () => `uid-${String(uids++)}`);

interface KubeObject {
  kind: string;
  metadata: { name: string; uid?: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: { podIP?: string };
}

function objectsOf(file: string): KubeObject[] {
  const text = meshObjects(plan)[file];
  if (text === undefined) throw new Error(`no ${file}`);
  return parseAllDocuments(text).map((document) => document.toJS() as KubeObject);
}

describe('the netns demo plan', () => {
  it('puts the callers and one echo endpoint on node-a, the rest on node-b, on the cluster addresses', () => {
    expect(
      plan.nodes.map((node) => [node.name, node.ip, node.pods.map((pod) => `${pod.name} ${pod.ip}`)]),
    ).toEqual([
      ['node-a', '10.99.0.1', ['sleep 10.99.1.2', 'productpage 10.99.1.3', 'echo-v2 10.99.1.4']],
      ['node-b', '10.99.0.2', ['echo-v1 10.99.2.2', 'reviews 10.99.2.3', 'legacy 10.99.2.4']],
    ]);
    expect(podNamed(plan, 'sleep').netnsName).toBe('ambient-abc123-n0p0');
    expect([plan.controlPlaneIp, plan.outsideIp]).toEqual(['10.99.0.254', '10.99.0.253']);
  });

  it('gives each node agent its captured pods only', () => {
    expect(plan.nodes.map((node) => agentPodsOf(node).map((pod) => pod.name))).toEqual([
      ['sleep', 'productpage', 'echo-v2'],
      ['echo-v1', 'reviews'],
    ]);
    const sleep = podNamed(plan, 'sleep');
    expect(plan.nodes.flatMap(agentPodsOf)[0]).toEqual({
      uid: sleep.uid,
      name: 'sleep',
      namespace: 'default',
      serviceAccount: 'sleep',
      netnsPath: sleep.netnsPath,
    });
  });

  it('describes the same pods to the control plane: node, pod IP, uid, and legacy opted out', () => {
    const pods = objectsOf('pods.yaml');
    expect(
      pods.map((pod) => [pod.metadata.name, pod.spec.nodeName, pod.status?.podIP, pod.metadata.uid]),
    ).toEqual(plan.pods.map((pod) => [pod.name, pod.node, pod.ip, pod.uid]));
    expect(pods.find((pod) => pod.metadata.name === 'legacy')?.metadata.labels).toEqual({
      app: 'legacy',
      'istio.io/dataplane-mode': 'none',
    });
    const [service] = objectsOf('services.yaml');
    expect(service?.spec).toMatchObject({ clusterIP: ECHO_SERVICE.vip, selector: { app: 'echo' } });
    const [policy] = objectsOf('policies.yaml');
    expect(policy?.kind).toBe('AuthorizationPolicy');
    expect(JSON.stringify(policy?.spec)).toContain('cluster.local/ns/default/sa/productpage');
    expect(objectsOf('namespace.yaml')[0]?.metadata.labels).toEqual({ 'istio.io/dataplane-mode': 'ambient' });
  });
});
