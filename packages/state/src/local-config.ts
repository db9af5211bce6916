import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import { ErrorCode, errorMessage, MeshError, normalizeIp } from '@ambient/core';
import { parseDocument } from 'yaml';
import { FieldReader, followsRule, isPlainObject, ProblemList, showValue } from './field-reader.js';
import {
  createService,
  createWorkload,
  DEFAULT_CLUSTER_ID,
  type Locality,
  type ServiceInit,
  type ServicePort,
  type ServiceVip,
  type WorkloadInit,
} from './model.js';
import type { StateSnapshot } from './state-index.js';

/*
 * LOCAL_XDS_PATH: the mesh described in one YAML file instead of by a control plane, in the spirit
 * of ztunnel's local config. Every problem is reported at once, each with the file, the object and
 * the field, so an operator fixes the file in one pass.
 */

const TOP_LEVEL_FIELDS = ['workloads', 'services'] as const;
const WORKLOAD_FIELDS = [
  'name',
  'namespace',
  'uid',
  'serviceAccount',
  'workloadIps',
  'protocol',
  'node',
  'trustDomain',
  'clusterId',
  'network',
  'canonicalName',
  'canonicalRevision',
  'workloadName',
  'workloadType',
  'status',
  'locality',
  'authorizationPolicies',
  'services',
] as const;
const SERVICE_FIELDS = ['name', 'namespace', 'hostname', 'vips', 'ports', 'subjectAltNames'] as const;
const LOCALITY_FIELDS = ['region', 'zone', 'subzone'] as const;
const PROTOCOLS = ['HBONE', 'TCP'] as const;
const WORKLOAD_TYPES = ['deployment', 'cronjob', 'pod', 'job'] as const;
const STATUSES = ['Healthy', 'Unhealthy'] as const;
// What Istio reports for a pod without a revision label.
const DEFAULT_CANONICAL_REVISION = 'latest';
const POLICY_KEY = /^[^/\s]+\/[^/\s]+$/;

/** One address claim, remembered to report a duplicate against the object and field that made it. */
interface AddressClaim {
  readonly reader: FieldReader;
  readonly field: string;
  readonly network: string;
  readonly ip: string;
}

interface WorkloadDraft {
  readonly reader: FieldReader;
  /** Undefined when the object has problems (they are already listed). */
  readonly init: WorkloadInit | undefined;
  readonly uid: string | undefined;
  readonly addresses: readonly AddressClaim[];
  readonly services: ReadonlyMap<string, ReadonlyMap<number, number>>;
}

interface ServiceDraft {
  readonly reader: FieldReader;
  readonly init: ServiceInit | undefined;
  /** From the raw fields even when they are invalid, so that references to it still resolve. */
  readonly key: string | undefined;
  readonly addresses: readonly AddressClaim[];
  readonly ports: ReadonlySet<number>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}

function rawKey(value: Readonly<Record<string, unknown>>, first: string, second: string): string | undefined {
  const a = value[first];
  const b = value[second];
  return typeof a === 'string' && typeof b === 'string' ? `${a}/${b}` : undefined;
}

function isServiceKey(key: string): boolean {
  const slash = key.indexOf('/');
  return (
    slash > 0 && followsRule(key.slice(0, slash), 'dnsLabel') && followsRule(key.slice(slash + 1), 'hostname')
  );
}

function readLocality(reader: FieldReader): Locality | undefined {
  const value = reader.object('locality');
  if (value === undefined) return undefined;
  const locality = reader.child('locality', value);
  locality.rejectUnknownFields(LOCALITY_FIELDS);
  return {
    region: locality.string('region') ?? '',
    zone: locality.string('zone') ?? '',
    subzone: locality.string('subzone') ?? '',
  };
}

function readPolicyKeys(reader: FieldReader): string[] {
  const keys: string[] = [];
  (reader.list('authorizationPolicies') ?? []).forEach((item, index) => {
    if (typeof item === 'string' && POLICY_KEY.test(item)) keys.push(item);
    else
      reader.problem(`authorizationPolicies[${String(index)}]`, `${showValue(item)} is not "namespace/name"`);
  });
  return keys;
}

function readWorkloadServices(reader: FieldReader): Map<string, ReadonlyMap<number, number>> {
  const services = new Map<string, ReadonlyMap<number, number>>();
  for (const [key, ports] of Object.entries(reader.object('services') ?? {})) {
    const field = `services[${JSON.stringify(key)}]`;
    if (!isServiceKey(key)) {
      reader.problem(field, `${showValue(key)} is not "namespace/hostname"`);
      continue;
    }
    // `key:` with nothing after it lists the service with no port mapping of its own.
    const map = ports === null ? new Map<number, number>() : reader.portMap(field, ports);
    if (map !== undefined) services.set(key, map);
  }
  return services;
}

function readWorkloadIps(reader: FieldReader): AddressClaim[] {
  if (!reader.has('workloadIps')) {
    reader.problem('workloadIps', 'required (at least one IP address)');
    return [];
  }
  const ips = reader.ipList('workloadIps');
  if (ips?.length === 0) reader.problem('workloadIps', 'at least one IP address is required');
  const network = typeof reader.value.network === 'string' ? reader.value.network : '';
  const claims: AddressClaim[] = [];
  ips?.forEach((ip, index) => {
    if (ip !== undefined) {
      claims.push({ reader, field: `workloadIps[${String(index)}]`, network, ip: normalizeIp(ip) });
    }
  });
  return claims;
}

function readWorkload(problems: ProblemList, index: number, item: unknown): WorkloadDraft | undefined {
  const path = `workloads[${String(index)}]`;
  if (!isPlainObject(item)) {
    problems.add(path, `expected a mapping, got ${showValue(item)}`);
    return undefined;
  }
  const reader = new FieldReader(problems, path, item);
  reader.setLabel(rawKey(item, 'namespace', 'name') ?? '');
  const problemsBefore = problems.problems.length;
  reader.rejectUnknownFields(WORKLOAD_FIELDS);

  const name = reader.requiredString('name', 'dnsSubdomain');
  const namespace = reader.requiredString('namespace', 'dnsLabel');
  const clusterId = nonEmpty(reader.string('clusterId')) ?? DEFAULT_CLUSTER_ID;
  // Istio's uid for a pod; the file may name its own.
  const uid =
    nonEmpty(reader.string('uid')) ??
    (name !== undefined && namespace !== undefined ? `${clusterId}//v1/Pod/${namespace}/${name}` : undefined);
  const addresses = readWorkloadIps(reader);
  const network = reader.string('network') ?? '';
  const protocol = reader.oneOf('protocol', PROTOCOLS) ?? 'TCP';
  const workloadName = nonEmpty(reader.string('workloadName')) ?? name;
  const fields = {
    trustDomain: reader.string('trustDomain', 'trustDomain') ?? '',
    serviceAccount: reader.string('serviceAccount', 'dnsSubdomain') ?? '',
    node: reader.string('node') ?? '',
    canonicalName: nonEmpty(reader.string('canonicalName')) ?? workloadName,
    canonicalRevision: nonEmpty(reader.string('canonicalRevision')) ?? DEFAULT_CANONICAL_REVISION,
    workloadType: reader.oneOf('workloadType', WORKLOAD_TYPES) ?? 'deployment',
    status: reader.oneOf('status', STATUSES) ?? 'Healthy',
  };
  const locality = readLocality(reader);
  const authorizationPolicies = readPolicyKeys(reader);
  const services = readWorkloadServices(reader);

  const valid = problems.problems.length === problemsBefore;
  const init: WorkloadInit | undefined =
    valid && name !== undefined && namespace !== undefined && uid !== undefined
      ? {
          ...fields,
          uid,
          name,
          namespace,
          workloadIps: addresses.map((claim) => claim.ip),
          network,
          tunnelProtocol: protocol === 'HBONE' ? 'HBONE' : 'NONE',
          clusterId,
          workloadName: workloadName ?? name,
          canonicalName: fields.canonicalName ?? name,
          ...(locality === undefined ? {} : { locality }),
          services,
          authorizationPolicies,
        }
      : undefined;
  return { reader, init, uid, addresses, services };
}

/** `network/ip` (ztunnel's form; the network may be empty) or a bare IP on the default network. */
function readVips(reader: FieldReader): AddressClaim[] {
  const claims: AddressClaim[] = [];
  (reader.list('vips') ?? []).forEach((item, index) => {
    const field = `vips[${String(index)}]`;
    const slash = typeof item === 'string' ? item.indexOf('/') : -1;
    const network = typeof item === 'string' && slash >= 0 ? item.slice(0, slash) : '';
    const ip = typeof item === 'string' ? item.slice(slash + 1) : '';
    if (isIP(ip) === 0) reader.problem(field, `${showValue(item)} is not "network/ip" or an IP address`);
    else claims.push({ reader, field, network, ip: normalizeIp(ip) });
  });
  return claims;
}

function readService(problems: ProblemList, index: number, item: unknown): ServiceDraft | undefined {
  const path = `services[${String(index)}]`;
  if (!isPlainObject(item)) {
    problems.add(path, `expected a mapping, got ${showValue(item)}`);
    return undefined;
  }
  const reader = new FieldReader(problems, path, item);
  reader.setLabel(rawKey(item, 'namespace', 'hostname') ?? '');
  const problemsBefore = problems.problems.length;
  reader.rejectUnknownFields(SERVICE_FIELDS);

  const name = reader.requiredString('name', 'dnsSubdomain');
  const namespace = reader.requiredString('namespace', 'dnsLabel');
  const hostname = reader.requiredString('hostname', 'hostname');
  const addresses = readVips(reader);
  const portMap = reader.has('ports')
    ? reader.portMap('ports', reader.value.ports)
    : new Map<number, number>();
  const ports: ServicePort[] = [...(portMap ?? [])].map(([servicePort, targetPort]) => ({
    servicePort,
    targetPort,
  }));
  const subjectAltNames = reader.stringList('subjectAltNames') ?? [];

  const valid = problems.problems.length === problemsBefore;
  const vips: ServiceVip[] = addresses.map(({ network, ip }) => ({ network, ip }));
  const init: ServiceInit | undefined =
    valid && name !== undefined && namespace !== undefined && hostname !== undefined
      ? { name, namespace, hostname, vips, ports, subjectAltNames }
      : undefined;
  return {
    reader,
    init,
    key: rawKey(item, 'namespace', 'hostname'),
    addresses,
    ports: new Set(ports.map((port) => port.servicePort)),
  };
}

/** Problems between objects: duplicate uids, keys and addresses; workloads naming unknown services. */
function checkAcrossObjects(workloads: readonly WorkloadDraft[], services: readonly ServiceDraft[]): void {
  const uids = new Map<string, FieldReader>();
  for (const { reader, uid } of workloads) {
    if (uid === undefined) continue;
    const first = uids.get(uid);
    if (first === undefined) uids.set(uid, reader);
    else reader.problem('uid', `${showValue(uid)} is already the uid of ${first.where}`);
  }

  const serviceByKey = new Map<string, ServiceDraft>();
  for (const service of services) {
    if (service.key === undefined) continue;
    const first = serviceByKey.get(service.key);
    if (first === undefined) serviceByKey.set(service.key, service);
    else
      service.reader.problem(
        'hostname',
        `${showValue(service.key)} is already the key of ${first.reader.where}`,
      );
  }

  // A workload IP and a service VIP share one address space: a lookup by IP must find one thing.
  const claims = new Map<string, AddressClaim>();
  for (const claim of [...workloads, ...services].flatMap((draft) => draft.addresses)) {
    const key = `${claim.network}/${claim.ip}`;
    const first = claims.get(key);
    if (first === undefined) claims.set(key, claim);
    else {
      claim.reader.problem(
        claim.field,
        `${showValue(claim.ip)} is already used by ${first.reader.where}: ${first.field}`,
      );
    }
  }

  for (const { reader, services: listed } of workloads) {
    for (const [key, ports] of listed) {
      const field = `services[${JSON.stringify(key)}]`;
      const service = serviceByKey.get(key);
      if (service === undefined) {
        reader.problem(field, `no service with this namespace/hostname is defined under services`);
        continue;
      }
      for (const port of ports.keys()) {
        if (!service.ports.has(port)) {
          reader.problem(`${field}[${String(port)}]`, `not a port of ${service.reader.where}`);
        }
      }
    }
  }
}

function invalidConfig(file: string, problems: readonly string[]): MeshError {
  const count = `${String(problems.length)} problem${problems.length === 1 ? '' : 's'}`;
  return new MeshError(
    ErrorCode.LocalConfigInvalid,
    `invalid local config ${file} (${count}):\n  ${problems.join('\n  ')}`,
  );
}

function parseYaml(text: string, problems: ProblemList): unknown {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  for (const error of document.errors) {
    // The first line holds the message and position; the rest is a code excerpt.
    problems.add('yaml', (error.message.split('\n')[0] ?? error.message).replace(/:$/, ''));
  }
  if (document.errors.length > 0) return undefined;
  try {
    return document.toJS() as unknown;
  } catch (error) {
    problems.add('yaml', errorMessage(error));
    return undefined;
  }
}

/**
 * Parses a local config file's text into a snapshot. Throws one MeshError (LocalConfigInvalid)
 * listing every problem, each as `<file>: workloads[2] (default/echo-a): workloadIps[0]: <what>`.
 */
export function parseLocalConfig(text: string, file: string): StateSnapshot {
  const problems = new ProblemList(file);
  const root = parseYaml(text, problems);
  if (problems.problems.length > 0) throw invalidConfig(file, problems.problems);
  if (root === undefined || root === null) return { workloads: [], services: [] };
  if (!isPlainObject(root)) {
    problems.add('top level', `expected a mapping with workloads and services, got ${showValue(root)}`);
    throw invalidConfig(file, problems.problems);
  }

  const top = new FieldReader(problems, '', root);
  top.rejectUnknownFields(TOP_LEVEL_FIELDS);
  const workloads = (top.list('workloads') ?? []).flatMap(
    (item, index) => readWorkload(problems, index, item) ?? [],
  );
  const services = (top.list('services') ?? []).flatMap(
    (item, index) => readService(problems, index, item) ?? [],
  );
  checkAcrossObjects(workloads, services);
  if (problems.problems.length > 0) throw invalidConfig(file, problems.problems);

  return Object.freeze({
    workloads: Object.freeze(
      workloads.flatMap(({ init }) => (init === undefined ? [] : [createWorkload(init)])),
    ),
    services: Object.freeze(
      services.flatMap(({ init }) => (init === undefined ? [] : [createService(init)])),
    ),
  });
}

/** Reads and parses LOCAL_XDS_PATH; an unreadable file is reported like an invalid one. */
export async function loadLocalConfig(path: string): Promise<StateSnapshot> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MeshError(
      ErrorCode.LocalConfigInvalid,
      `cannot read local config ${path}: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  return parseLocalConfig(text, path);
}
