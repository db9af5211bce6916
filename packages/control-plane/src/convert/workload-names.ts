import type { WorkloadType } from '@ambient/state';
import type { Labels } from './labels.js';

// Istio's canonical-service label chains, most specific first (istio pkg/kube/labels).
const CANONICAL_NAME_LABELS = ['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app'];
const CANONICAL_REVISION_LABELS = [
  'service.istio.io/canonical-revision',
  'app.kubernetes.io/version',
  'version',
];
const DEFAULT_CANONICAL_REVISION = 'latest';
/** Overrides the workload name derived from owners (Istio's `service.istio.io/workload-name`). */
const WORKLOAD_NAME_LABEL = 'service.istio.io/workload-name';
/** Names the WorkloadGroup of an auto-registered WorkloadEntry. */
const AUTO_REGISTRATION_GROUP_ANNOTATION = 'istio.io/autoRegistrationGroup';
const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
/** A CronJob names its Jobs `<cronjob>-<scheduled time in minutes>`: 8 to 10 digits. */
const CRONJOB_JOB_NAME = /^(.+)-\d{8,10}$/;

function firstLabel(labels: Labels, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = labels[key];
    if (value !== undefined) return value;
  }
  return undefined;
}

export interface CanonicalService {
  readonly canonicalName: string;
  readonly canonicalRevision: string;
}

export function canonicalService(labels: Labels, workloadName: string): CanonicalService {
  return {
    canonicalName: firstLabel(labels, CANONICAL_NAME_LABELS) ?? workloadName,
    canonicalRevision: firstLabel(labels, CANONICAL_REVISION_LABELS) ?? DEFAULT_CANONICAL_REVISION,
  };
}

export interface OwnerReference {
  readonly kind: string;
  readonly name: string;
  readonly controller?: boolean;
}

export interface WorkloadNameAndType {
  readonly workloadName: string;
  readonly workloadType: WorkloadType;
}

/** `name-<hash>` → `name`: the Deployment behind a ReplicaSet. */
function deploymentName(replicaSet: string, labels: Labels): string {
  const hash = labels[POD_TEMPLATE_HASH_LABEL];
  if (hash !== undefined && hash !== '' && replicaSet.endsWith(`-${hash}`)) {
    return replicaSet.slice(0, -(hash.length + 1));
  }
  // Hand-written objects rarely carry pod-template-hash: the ReplicaSet's last segment is its hash.
  const dash = replicaSet.lastIndexOf('-');
  return dash > 0 ? replicaSet.slice(0, dash) : replicaSet;
}

/**
 * What a pod is an instance of, from its controlling owner: ReplicaSet → its Deployment, Job → the
 * Job (or the CronJob that named it), CronJob; no owner → the pod itself.
 */
export function podWorkload(
  podName: string,
  labels: Labels,
  owners: readonly OwnerReference[],
): WorkloadNameAndType {
  const owner = owners.find((candidate) => candidate.controller === true) ?? owners[0];
  let result: WorkloadNameAndType = { workloadName: podName, workloadType: 'pod' };
  if (owner !== undefined) {
    switch (owner.kind) {
      case 'ReplicaSet':
        result = { workloadName: deploymentName(owner.name, labels), workloadType: 'deployment' };
        break;
      case 'Job': {
        const cronJob = CRONJOB_JOB_NAME.exec(owner.name)?.[1];
        result =
          cronJob === undefined
            ? { workloadName: owner.name, workloadType: 'job' }
            : { workloadName: cronJob, workloadType: 'cronjob' };
        break;
      }
      case 'CronJob':
        result = { workloadName: owner.name, workloadType: 'cronjob' };
        break;
      default:
        // StatefulSet, DaemonSet, …: the proto has no type for them; istiod reports them as pods.
        result = { workloadName: owner.name, workloadType: 'pod' };
    }
  }
  const override = labels[WORKLOAD_NAME_LABEL];
  return override === undefined ? result : { ...result, workloadName: override };
}

/** A WorkloadEntry's workload: its WorkloadGroup, a workload-name label, or the entry itself. */
export function workloadEntryName(name: string, labels: Labels, annotations: Labels): string {
  return annotations[AUTO_REGISTRATION_GROUP_ANNOTATION] ?? labels[WORKLOAD_NAME_LABEL] ?? name;
}
