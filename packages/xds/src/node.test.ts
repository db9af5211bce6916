import { describe, expect, it } from 'vitest';
import { core } from '@ambient/protos';
import { ztunnelNode } from './node.js';

describe('ztunnelNode', () => {
  it("builds ztunnel's node id and metadata", () => {
    const node = ztunnelNode({
      instanceIp: '10.0.0.7',
      podName: 'ztunnel-abcde',
      podNamespace: 'istio-system',
      nodeName: 'worker-1',
      clusterId: 'Kubernetes',
    });
    expect(node.id).toBe('ztunnel~10.0.0.7~ztunnel-abcde.istio-system~istio-system.svc.cluster.local');
    expect(node.metadata).toEqual({
      NAME: 'ztunnel-abcde',
      NAMESPACE: 'istio-system',
      INSTANCE_IPS: '10.0.0.7',
      NODE_NAME: 'worker-1',
      CLUSTER_ID: 'Kubernetes',
    });
  });

  it('stands in 1.1.1.1 and empty names for what is unknown, as ztunnel does', () => {
    const node = ztunnelNode({});
    expect(node.id).toBe('ztunnel~1.1.1.1~.~.svc.cluster.local');
    expect(node.metadata).toEqual({ NAME: '', NAMESPACE: '', INSTANCE_IPS: '1.1.1.1', NODE_NAME: '' });
  });

  it('lets proxy metadata override the fields, and JSON metadata override both', () => {
    const node = ztunnelNode({
      podName: 'p',
      podNamespace: 'ns',
      clusterId: 'one',
      metadata: { CLUSTER_ID: 'two', DNS_CAPTURE: 'true', NAME: 'q' },
      jsonMetadata: { DNS_CAPTURE: true, LABELS: { app: 'ztunnel' } },
    });
    expect(node.metadata).toMatchObject({
      NAME: 'q',
      CLUSTER_ID: 'two',
      DNS_CAPTURE: true,
      LABELS: { app: 'ztunnel' },
    });
  });

  it('survives the wire: the metadata is a google.protobuf.Struct istiod can read', () => {
    const node = ztunnelNode({
      instanceIp: '10.0.0.7',
      podName: 'z',
      podNamespace: 'istio-system',
      jsonMetadata: { LIST: [1, 'a', null] },
    });
    const decoded = core.Node.decode(core.Node.encode(node).finish());
    expect(decoded.id).toBe(node.id);
    expect(decoded.metadata).toEqual(node.metadata);
  });
});
