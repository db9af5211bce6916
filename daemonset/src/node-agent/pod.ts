import type { WorkloadInfo } from '@ambient/redirect';

/**
 * A pod the node agent captures: what istio-cni knows of it from the CNI plugin call (its uid and
 * network namespace) and from the Kubernetes API (name, namespace, service account).
 */
export interface MeshPod {
  /** The pod's UID: ZDS names pods by it. */
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The pod's network namespace, e.g. `/var/run/netns/<name>` or `/proc/<pid>/ns/net`. */
  readonly netnsPath: string;
}

export function workloadInfoOf(pod: MeshPod): WorkloadInfo {
  return { name: pod.name, namespace: pod.namespace, serviceAccount: pod.serviceAccount };
}

/** `namespace/name`, for logs. */
export function podLabel(pod: MeshPod): string {
  return `${pod.namespace}/${pod.name}`;
}

export function samePod(a: MeshPod, b: MeshPod): boolean {
  return (
    a.uid === b.uid &&
    a.name === b.name &&
    a.namespace === b.namespace &&
    a.serviceAccount === b.serviceAccount &&
    a.netnsPath === b.netnsPath
  );
}

export interface PodChanges {
  /** New pods, and known pods whose details changed (added again: ZDS Add replaces). */
  readonly add: readonly MeshPod[];
  /** Uids of pods no longer wanted. */
  readonly remove: readonly string[];
}

/** What turns the pods enrolled now into the pods wanted: removals first, then adds. */
export function podChanges(enrolled: readonly MeshPod[], wanted: readonly MeshPod[]): PodChanges {
  const wantedByUid = new Map(wanted.map((pod) => [pod.uid, pod]));
  const enrolledByUid = new Map(enrolled.map((pod) => [pod.uid, pod]));
  return {
    remove: enrolled.filter((pod) => !wantedByUid.has(pod.uid)).map((pod) => pod.uid),
    add: wanted.filter((pod) => {
      const current = enrolledByUid.get(pod.uid);
      return current === undefined || !samePod(current, pod);
    }),
  };
}
