import type { Authorization, Service, Workload } from '@ambient/state';
import type { KubeObject, SourceObject } from '../sources/source.js';
import { convertMesh, type ConversionResult } from './convert-mesh.js';
import type { ConvertOptions } from './options.js';

/*
 * Builders of Kubernetes objects for the conversion tests: each takes only what a test varies and
 * fills the rest the way `kubectl get -o yaml` would show it.
 */

type Labels = Record<string, string>;

interface Meta {
  readonly namespace?: string;
  readonly labels?: Labels;
  readonly annotations?: Labels;
  readonly creationTimestamp?: string;
}

function metadata(name: string, meta: Meta): KubeObject['metadata'] {
  return {
    name,
    ...(meta.namespace === undefined ? {} : { namespace: meta.namespace }),
    ...(meta.labels === undefined ? {} : { labels: meta.labels }),
    ...(meta.annotations === undefined ? {} : { annotations: meta.annotations }),
    ...(meta.creationTimestamp === undefined ? {} : { creationTimestamp: meta.creationTimestamp }),
  };
}

export function namespace(name: string, labels: Labels = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

/** The `default` namespace, enrolled in ambient. */
export const AMBIENT_DEFAULT = namespace('default', { 'istio.io/dataplane-mode': 'ambient' });

export interface PodOptions extends Meta {
  readonly ip?: string | null;
  readonly ips?: readonly string[];
  readonly serviceAccount?: string;
  readonly node?: string;
  readonly phase?: string;
  /** The Ready condition's status; undefined: no conditions at all. */
  readonly ready?: 'True' | 'False';
  readonly hostNetwork?: boolean;
  readonly containerPorts?: readonly { name: string; containerPort: number; protocol?: string }[];
  readonly owners?: readonly { kind: string; name: string; controller?: boolean }[];
  readonly deleting?: boolean;
}

export function pod(name: string, options: PodOptions = {}): KubeObject {
  const ips = options.ips ?? (options.ip === null ? [] : [options.ip ?? '10.0.0.1']);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...metadata(name, options),
      ...(options.owners === undefined
        ? {}
        : { ownerReferences: options.owners.map((o) => ({ apiVersion: 'apps/v1', uid: 'u', ...o })) }),
      ...(options.deleting === true ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: {
      ...(options.serviceAccount === undefined ? {} : { serviceAccountName: options.serviceAccount }),
      ...(options.node === undefined ? {} : { nodeName: options.node }),
      ...(options.hostNetwork === undefined ? {} : { hostNetwork: options.hostNetwork }),
      containers: [{ name: 'app', image: 'app', ports: options.containerPorts ?? [] }],
    },
    status: {
      phase: options.phase ?? 'Running',
      ...(ips.length === 0 ? {} : { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) }),
      ...(options.ready === undefined ? {} : { conditions: [{ type: 'Ready', status: options.ready }] }),
    },
  };
}

export interface ServiceOptions extends Meta {
  readonly ip?: string;
  readonly selector?: Labels;
  readonly ports?: readonly { port: number; targetPort?: number | string; name?: string }[];
  readonly type?: string;
}

export function service(name: string, options: ServiceOptions = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(name, options),
    spec: {
      ...(options.ip === undefined ? {} : { clusterIP: options.ip, clusterIPs: [options.ip] }),
      ...(options.selector === undefined ? {} : { selector: options.selector }),
      ...(options.type === undefined ? {} : { type: options.type }),
      ports: options.ports ?? [{ port: 80, targetPort: 8080, name: 'http' }],
    },
  };
}

function kind(apiVersion: string, kindName: string): (name: string, spec: object, meta?: Meta) => KubeObject {
  return (name, spec, meta = {}) => ({ apiVersion, kind: kindName, metadata: metadata(name, meta), spec });
}

export const serviceEntry = kind('networking.istio.io/v1', 'ServiceEntry');
export const workloadEntry = kind('networking.istio.io/v1', 'WorkloadEntry');
export const authorizationPolicy = kind('security.istio.io/v1', 'AuthorizationPolicy');
export const peerAuthentication = kind('security.istio.io/v1', 'PeerAuthentication');
export const gateway = kind('gateway.networking.k8s.io/v1', 'Gateway');

/** A waypoint Gateway with Istio's HBONE listener. */
export function waypoint(
  name: string,
  meta: Meta = {},
  allowedRoutes?: object,
  gatewayClassName = 'istio-waypoint',
): KubeObject {
  return gateway(
    name,
    {
      gatewayClassName,
      listeners: [
        {
          name: 'mesh',
          port: 15008,
          protocol: 'HBONE',
          ...(allowedRoutes === undefined ? {} : { allowedRoutes }),
        },
      ],
    },
    meta,
  );
}

/** Converts objects given as `test.yaml#1`, `test.yaml#2`, … */
export function convert(objects: readonly KubeObject[], options: ConvertOptions = {}): ConversionResult {
  const sources: SourceObject[] = objects.map((object, index) => ({
    origin: `test.yaml#${String(index + 1)}`,
    object,
  }));
  return convertMesh(sources, options);
}

export function workloadOf(result: ConversionResult, uid: string): Workload {
  const found = result.snapshot.workloads.find((w) => w.uid === uid);
  if (found === undefined) {
    throw new Error(`no workload ${uid}; have ${result.snapshot.workloads.map((w) => w.uid).join(', ')}`);
  }
  return found;
}

export function podWorkload(result: ConversionResult, name: string, ns = 'default'): Workload {
  return workloadOf(result, `Kubernetes//Pod/${ns}/${name}`);
}

export function serviceOf(result: ConversionResult, key: string): Service {
  const found = result.snapshot.services.find((s) => s.key === key);
  if (found === undefined)
    throw new Error(`no service ${key}; have ${result.snapshot.services.map((s) => s.key).join(', ')}`);
  return found;
}

export function policyOf(result: ConversionResult, key: string): Authorization {
  const found = (result.snapshot.authorizations ?? []).find((a) => a.key === key);
  if (found === undefined) {
    throw new Error(
      `no policy ${key}; have ${(result.snapshot.authorizations ?? []).map((a) => a.key).join(', ')}`,
    );
  }
  return found;
}

/** A workload's services map as plain objects, for `toEqual`. */
export function servicesOf(workload: Workload): Record<string, Record<number, number>> {
  return Object.fromEntries([...workload.services].map(([key, ports]) => [key, Object.fromEntries(ports)]));
}
