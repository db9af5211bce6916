import { Gateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import { Gateway as GatewayV1beta1 } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/Gateway';
import { ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import { WorkloadEntry } from '@kubernetes-models/istio/networking.istio.io/v1/WorkloadEntry';
import { ServiceEntry as ServiceEntryV1alpha3 } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/ServiceEntry';
import { WorkloadEntry as WorkloadEntryV1alpha3 } from '@kubernetes-models/istio/networking.istio.io/v1alpha3/WorkloadEntry';
import { ServiceEntry as ServiceEntryV1beta1 } from '@kubernetes-models/istio/networking.istio.io/v1beta1/ServiceEntry';
import { WorkloadEntry as WorkloadEntryV1beta1 } from '@kubernetes-models/istio/networking.istio.io/v1beta1/WorkloadEntry';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';
import { AuthorizationPolicy as AuthorizationPolicyV1beta1 } from '@kubernetes-models/istio/security.istio.io/v1beta1/AuthorizationPolicy';
import { PeerAuthentication as PeerAuthenticationV1beta1 } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Service } from 'kubernetes-models/v1/Service';
import type { KubeObject } from '../sources/source.js';

/*
 * The kinds the converter reads, each with the API versions it accepts and the schema check of the
 * typed model for that version (kubernetes-models: AJV compiled from the OpenAPI / CRD schema). The
 * older Istio and Gateway API versions have the same fields, so everything past the schema check
 * reads them through the newest version's type.
 */

export type SupportedKind =
  | 'Namespace'
  | 'Pod'
  | 'Service'
  | 'ServiceEntry'
  | 'WorkloadEntry'
  | 'AuthorizationPolicy'
  | 'PeerAuthentication'
  | 'Gateway';

/** Throws the model's ValidationError (AJV errors, all of them) when the object breaks the schema. */
export type SchemaCheck = (object: KubeObject) => void;

interface Validatable {
  validate(): void;
}

function schemaCheck(Model: new (data?: never) => Validatable): SchemaCheck {
  return (object) => {
    // The model copies the plain object; validate() runs the generated AJV validator over that copy.
    // Its constructor's parameter type is the model's own; the schema check is what establishes it.
    new Model(object as never).validate();
  };
}

export interface KindDefinition {
  readonly kind: SupportedKind;
  /** API group; `` for the core group (`apiVersion: v1`). */
  readonly group: string;
  /** Cluster-scoped kinds have no namespace. */
  readonly namespaced: boolean;
  /** Version → schema check, newest first (the order problems list them in). */
  readonly versions: ReadonlyMap<string, SchemaCheck>;
}

const DEFINITIONS: readonly KindDefinition[] = [
  { kind: 'Namespace', group: '', namespaced: false, versions: new Map([['v1', schemaCheck(Namespace)]]) },
  { kind: 'Pod', group: '', namespaced: true, versions: new Map([['v1', schemaCheck(Pod)]]) },
  { kind: 'Service', group: '', namespaced: true, versions: new Map([['v1', schemaCheck(Service)]]) },
  {
    kind: 'ServiceEntry',
    group: 'networking.istio.io',
    namespaced: true,
    versions: new Map([
      ['v1', schemaCheck(ServiceEntry)],
      ['v1beta1', schemaCheck(ServiceEntryV1beta1)],
      ['v1alpha3', schemaCheck(ServiceEntryV1alpha3)],
    ]),
  },
  {
    kind: 'WorkloadEntry',
    group: 'networking.istio.io',
    namespaced: true,
    versions: new Map([
      ['v1', schemaCheck(WorkloadEntry)],
      ['v1beta1', schemaCheck(WorkloadEntryV1beta1)],
      ['v1alpha3', schemaCheck(WorkloadEntryV1alpha3)],
    ]),
  },
  {
    kind: 'AuthorizationPolicy',
    group: 'security.istio.io',
    namespaced: true,
    versions: new Map([
      ['v1', schemaCheck(AuthorizationPolicy)],
      ['v1beta1', schemaCheck(AuthorizationPolicyV1beta1)],
    ]),
  },
  {
    kind: 'PeerAuthentication',
    group: 'security.istio.io',
    namespaced: true,
    versions: new Map([
      ['v1', schemaCheck(PeerAuthentication)],
      ['v1beta1', schemaCheck(PeerAuthenticationV1beta1)],
    ]),
  },
  {
    kind: 'Gateway',
    group: 'gateway.networking.k8s.io',
    namespaced: true,
    versions: new Map([
      ['v1', schemaCheck(Gateway)],
      ['v1beta1', schemaCheck(GatewayV1beta1)],
    ]),
  },
];

function groupKindKey(group: string, kind: string): string {
  return `${group}/${kind}`;
}

const BY_GROUP_KIND = new Map(DEFINITIONS.map((d) => [groupKindKey(d.group, d.kind), d]));

/** `group` and `version` of an apiVersion (`v1` is the core group). */
export function splitApiVersion(apiVersion: string): { readonly group: string; readonly version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function findKind(group: string, kind: string): KindDefinition | undefined {
  return BY_GROUP_KIND.get(groupKindKey(group, kind));
}

/** `apiVersion` values a kind accepts, for messages. */
export function apiVersionsOf(definition: KindDefinition): string[] {
  return [...definition.versions.keys()].map((version) =>
    definition.group === '' ? version : `${definition.group}/${version}`,
  );
}

/** Every supported kind as `Kind (apiVersion)`, for the "unsupported kind" message. */
export const SUPPORTED_KINDS_TEXT = DEFINITIONS.map((d) => `${d.kind} (${apiVersionsOf(d)[0] ?? ''})`).join(
  ', ',
);
