import type { ProxyState, Workload } from '@ambient/state';
import { createWorkload } from '@ambient/state';
import type { WorkloadInfo } from '@ambient/redirect';

/** What a pod's workload is found by: the node agent's WorkloadInfo and where this ztunnel runs. */
export interface PodWorkloadContext {
  readonly state: ProxyState;
  readonly clusterId: string;
  readonly trustDomain: string;
  readonly nodeName: string;
  readonly info: WorkloadInfo;
}

/** The SPIFFE identity a pod runs as, from the node agent's WorkloadInfo (istio-cni sends no trust domain). */
export function podIdentity(trustDomain: string, info: WorkloadInfo): string {
  return `spiffe://${trustDomain}/ns/${info.namespace}/sa/${serviceAccountOf(info)}`;
}

/**
 * The pod's workload in the state: by uid, as our control plane (`<cluster>//Pod/<ns>/<name>`)
 * and the local config file (`<cluster>//v1/Pod/<ns>/<name>`) name pods, else by name and
 * namespace among this node's workloads.
 */
export function findPodWorkload(context: PodWorkloadContext): Workload | undefined {
  const { state, clusterId, nodeName, info } = context;
  return (
    state.workloadByUid(`${clusterId}//Pod/${info.namespace}/${info.name}`) ??
    state.workloadByUid(`${clusterId}//v1/Pod/${info.namespace}/${info.name}`) ??
    state.workloadsOnNode(nodeName).find((w) => w.name === info.name && w.namespace === info.namespace)
  );
}

/**
 * A stand-in for a pod the state does not know (yet): its identity is right, so its traffic is
 * mutual TLS as itself; telemetry labels it knows nothing else about stay "unknown".
 */
export function synthesizePodWorkload(context: PodWorkloadContext): Workload {
  const { clusterId, trustDomain, nodeName, info } = context;
  return createWorkload({
    uid: `${clusterId}//Pod/${info.namespace}/${info.name}`,
    name: info.name,
    namespace: info.namespace,
    workloadIps: [],
    tunnelProtocol: 'HBONE',
    trustDomain,
    serviceAccount: serviceAccountOf(info),
    node: nodeName,
    clusterId,
  });
}

/**
 * One pod's workload as the proxies need it, looked up again only when the state changed: the
 * state may learn of the pod after the node agent handed it over.
 */
export class PodWorkload {
  private version = -1;
  private cached: Workload | undefined;
  private readonly standIn: Workload;

  constructor(private readonly context: PodWorkloadContext) {
    this.standIn = synthesizePodWorkload(context);
  }

  /** The pod's workload as the state knows it; undefined while it does not. */
  known(): Workload | undefined {
    const version = this.context.state.version;
    if (version !== this.version) {
      this.cached = findPodWorkload(this.context);
      this.version = version;
    }
    return this.cached;
  }

  /**
   * The source of a connection the pod made from `clientIp`: the known workload, else the one
   * the state has at that IP on this node, else the stand-in.
   */
  source(clientIp: string): Workload {
    const known = this.known();
    if (known !== undefined) return known;
    const byIp = this.context.state.workloadByIp(clientIp);
    return byIp?.node === this.context.nodeName ? byIp : this.standIn;
  }

  /** Whether `ip` is one of the pod's addresses (as far as the state knows). */
  ownsIp(ip: string): boolean {
    return this.known()?.workloadIps.includes(ip) ?? false;
  }
}

function serviceAccountOf(info: WorkloadInfo): string {
  return info.serviceAccount === '' ? 'default' : info.serviceAccount;
}
