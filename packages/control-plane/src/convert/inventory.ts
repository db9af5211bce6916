import type { IGateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import type { IServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import type { IWorkloadEntry } from '@kubernetes-models/istio/networking.istio.io/v1/WorkloadEntry';
import type { IAuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import type { IPeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IService } from 'kubernetes-models/v1/Service';
import type { KubeObject, SourceObject } from '../sources/source.js';
import {
  apiVersionsOf,
  findKind,
  splitApiVersion,
  SUPPORTED_KINDS_TEXT,
  type KindDefinition,
  type SupportedKind,
} from './kinds.js';
import { NO_LABELS, type Labels } from './labels.js';
import { showValue, type ObjectRef, type ProblemCollector } from './problems.js';
import { describeSchemaErrors, schemaErrorsOf } from './schema-problems.js';

/** Namespaced objects that name none live here, as `kubectl apply` would put them. */
export const DEFAULT_NAMESPACE = 'default';

/** One object that passed its schema check, with the metadata every converter reads. */
export interface Accepted<T> {
  readonly ref: ObjectRef;
  readonly kind: SupportedKind;
  /** `` for cluster-scoped kinds. */
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  /**
   * Milliseconds since the epoch, for "oldest wins". Objects without a creationTimestamp (files)
   * count as created at 0: older than anything a cluster reports.
   */
  readonly createdAtMs: number;
  readonly value: T;
}

export interface MeshInventory {
  /** By name. */
  readonly namespaces: ReadonlyMap<string, Accepted<INamespace>>;
  readonly pods: readonly Accepted<IPod>[];
  readonly services: readonly Accepted<IService>[];
  readonly serviceEntries: readonly Accepted<IServiceEntry>[];
  readonly workloadEntries: readonly Accepted<IWorkloadEntry>[];
  readonly authorizationPolicies: readonly Accepted<IAuthorizationPolicy>[];
  readonly peerAuthentications: readonly Accepted<IPeerAuthentication>[];
  readonly gateways: readonly Accepted<IGateway>[];
}

export function objectLabel(kind: string, namespace: string, name: string): string {
  return namespace === '' ? `${kind} ${name}` : `${kind} ${namespace}/${name}`;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function createdAtMs(object: KubeObject): number {
  const stamp = stringOrUndefined(object.metadata.creationTimestamp);
  const ms = stamp === undefined ? NaN : Date.parse(stamp);
  return Number.isNaN(ms) ? 0 : ms;
}

/** The metadata problems the schemas leave to the API server: a name is required. */
function checkName(object: KubeObject, report: (field: string, message: string) => void): string | undefined {
  const name = object.metadata.name;
  if (typeof name !== 'string' || name === '') {
    report('metadata.name', name === undefined ? 'required' : `${showValue(name)} is not a name`);
    return undefined;
  }
  return name;
}

/** Checks kind, apiVersion and schema of one object; reports every problem; undefined when unusable. */
function acceptOne(source: SourceObject, problems: ProblemCollector): Accepted<unknown> | undefined {
  const { object, origin } = source;
  const kind = stringOrUndefined(object.kind) ?? '';
  const apiVersion = stringOrUndefined(object.apiVersion) ?? '';
  const rawName = stringOrUndefined(object.metadata.name);
  const { group, version } = splitApiVersion(apiVersion);
  const definition: KindDefinition | undefined = findKind(group, kind);
  const rawNamespace = stringOrUndefined(object.metadata.namespace);
  const namespace =
    definition?.namespaced === false
      ? ''
      : rawNamespace === undefined || rawNamespace === ''
        ? DEFAULT_NAMESPACE
        : rawNamespace;
  const ref: ObjectRef = {
    origin,
    object: objectLabel(
      kind === '' ? 'object' : kind,
      namespace,
      rawName === undefined || rawName === '' ? '(unnamed)' : rawName,
    ),
  };

  if (definition === undefined) {
    problems.error(
      ref,
      'kind',
      `unsupported kind ${showValue(kind)} (apiVersion ${showValue(apiVersion)}); supported: ${SUPPORTED_KINDS_TEXT}`,
    );
    return undefined;
  }
  const schemaCheck = definition.versions.get(version);
  if (schemaCheck === undefined) {
    problems.error(
      ref,
      'apiVersion',
      `${showValue(apiVersion)} is not a supported version of ${kind} (supported: ${apiVersionsOf(definition).join(', ')})`,
    );
    return undefined;
  }
  let usable = true;
  const report = (fieldName: string, message: string): void => {
    usable = false;
    problems.error(ref, fieldName, message);
  };
  const name = checkName(object, report);
  try {
    schemaCheck(object);
  } catch (thrown) {
    const errors = schemaErrorsOf(thrown);
    if (errors === undefined) throw thrown;
    for (const problem of describeSchemaErrors(errors, object)) report(problem.field, problem.message);
    // A schema error without detail still makes the object unusable.
    usable = false;
    if (errors.length === 0) report('', 'does not match the schema of its kind');
  }
  if (!usable || name === undefined) return undefined;
  return {
    ref,
    kind: definition.kind,
    namespace,
    name,
    labels: object.metadata.labels ?? NO_LABELS,
    annotations: object.metadata.annotations ?? NO_LABELS,
    createdAtMs: createdAtMs(object),
    value: object,
  };
}

/**
 * Every usable object, grouped by kind in input order. Unsupported kinds, unsupported versions,
 * schema violations and duplicates (same kind, namespace and name: the later one) are reported
 * and left out; the rest is kept.
 */
export function readInventory(objects: readonly SourceObject[], problems: ProblemCollector): MeshInventory {
  const firstOrigin = new Map<string, string>();
  const namespaces = new Map<string, Accepted<INamespace>>();
  const pods: Accepted<IPod>[] = [];
  const services: Accepted<IService>[] = [];
  const serviceEntries: Accepted<IServiceEntry>[] = [];
  const workloadEntries: Accepted<IWorkloadEntry>[] = [];
  const authorizationPolicies: Accepted<IAuthorizationPolicy>[] = [];
  const peerAuthentications: Accepted<IPeerAuthentication>[] = [];
  const gateways: Accepted<IGateway>[] = [];

  for (const source of objects) {
    const accepted = acceptOne(source, problems);
    if (accepted === undefined) continue;
    const identity = `${accepted.kind}/${accepted.namespace}/${accepted.name}`;
    const earlier = firstOrigin.get(identity);
    if (earlier !== undefined) {
      problems.error(
        accepted.ref,
        'metadata.name',
        `duplicate: ${accepted.ref.object} is already defined in ${earlier}`,
      );
      continue;
    }
    firstOrigin.set(identity, accepted.ref.origin);
    // The schema check passed, so the object has the shape of its kind's (newest) model type.
    switch (accepted.kind) {
      case 'Namespace':
        namespaces.set(accepted.name, accepted as Accepted<INamespace>);
        break;
      case 'Pod':
        pods.push(accepted as Accepted<IPod>);
        break;
      case 'Service':
        services.push(accepted as Accepted<IService>);
        break;
      case 'ServiceEntry':
        serviceEntries.push(accepted as Accepted<IServiceEntry>);
        break;
      case 'WorkloadEntry':
        workloadEntries.push(accepted as Accepted<IWorkloadEntry>);
        break;
      case 'AuthorizationPolicy':
        authorizationPolicies.push(accepted as Accepted<IAuthorizationPolicy>);
        break;
      case 'PeerAuthentication':
        peerAuthentications.push(accepted as Accepted<IPeerAuthentication>);
        break;
      case 'Gateway':
        gateways.push(accepted as Accepted<IGateway>);
        break;
    }
  }
  return {
    namespaces,
    pods,
    services,
    serviceEntries,
    workloadEntries,
    authorizationPolicies,
    peerAuthentications,
    gateways,
  };
}

/** The labels of a namespace (none when no Namespace object names it). */
export function namespaceLabels(inventory: MeshInventory, namespace: string): Labels {
  return inventory.namespaces.get(namespace)?.labels ?? NO_LABELS;
}
