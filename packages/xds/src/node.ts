import type { core } from '@ambient/protos';

/** ztunnel's stand-in when INSTANCE_IP is unset. */
const DEFAULT_INSTANCE_IP = '1.1.1.1';

export interface ZtunnelNodeOptions {
  /** INSTANCE_IP: the ztunnel pod's IP; 1.1.1.1 when unknown, as ztunnel does. */
  readonly instanceIp?: string | undefined;
  /** POD_NAME */
  readonly podName?: string | undefined;
  /** POD_NAMESPACE */
  readonly podNamespace?: string | undefined;
  /** NODE_NAME */
  readonly nodeName?: string | undefined;
  /** Sent as metadata CLUSTER_ID, as ztunnel does when ISTIO_META_CLUSTER_ID is set. */
  readonly clusterId?: string | undefined;
  /** Proxy metadata (ztunnel's `ISTIO_META_*` with the prefix stripped); these win over the fields above. */
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  /** JSON-valued metadata (ztunnel's `ISTIO_METAJSON_*`, already parsed); these win over everything. */
  readonly jsonMetadata?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * The xDS `Node` a ztunnel identifies itself with: id
 * `ztunnel~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local` and metadata NAME, NAMESPACE,
 * INSTANCE_IPS, NODE_NAME, then proxy metadata, then JSON metadata — what istiod reads to know
 * the proxy type, its node and its cluster.
 */
export function ztunnelNode(options: ZtunnelNodeOptions): core.Node {
  const ip = options.instanceIp ?? DEFAULT_INSTANCE_IP;
  const podName = options.podName ?? '';
  const namespace = options.podNamespace ?? '';
  const metadata: Record<string, unknown> = {
    NAME: podName,
    NAMESPACE: namespace,
    INSTANCE_IPS: ip,
    NODE_NAME: options.nodeName ?? '',
  };
  if (options.clusterId !== undefined) metadata.CLUSTER_ID = options.clusterId;
  Object.assign(metadata, options.metadata, options.jsonMetadata);
  return {
    id: `ztunnel~${ip}~${podName}.${namespace}~${namespace}.svc.cluster.local`,
    cluster: '',
    metadata,
    userAgentName: '',
    clientFeatures: [],
  };
}
