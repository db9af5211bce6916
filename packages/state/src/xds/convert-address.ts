import { workload as wire } from '@ambient/protos';
import {
  createService,
  createWorkload,
  serviceKey,
  type Service,
  type ServicePort,
  type ServiceVip,
  type TunnelProtocol,
  type Workload,
} from '../model.js';
import { convertGatewayAddress } from './gateway-address.js';
import { bytesToIp } from './ip-bytes.js';
import { decodeMessage, quoted, ResourceProblems } from './resource-problems.js';
import { TUNNEL_PROTOCOLS, WORKLOAD_STATUSES, WORKLOAD_TYPES } from './wire-enums.js';

/** One `istio.workload.Address` resource, as our model. */
export type ConvertedAddress =
  | { readonly kind: 'workload'; readonly workload: Workload }
  | { readonly kind: 'service'; readonly service: Service };

/**
 * Decodes and checks one `istio.workload.Address` resource the way ztunnel does (reference §4.1):
 * ztunnel's defaults for empty trust domain, service account and cluster id; addresses of 4 or 16
 * bytes; LEGACY_ISTIO_MTLS refused; the xDS name must be the workload's uid or the service's
 * `namespace/hostname`. Throws a MeshError (MESH_ERR_XDS_INVALID_RESOURCE) listing every problem.
 * Fields our model has no use for yet (network gateway, capacity, load balancing, extensions…) are
 * accepted and dropped.
 */
export function convertAddress(name: string, bytes: Uint8Array): ConvertedAddress {
  const address = decodeMessage(`address ${quoted(name)}`, 'istio.workload.Address', () =>
    wire.Address.decode(bytes),
  );
  switch (address.type?.$case) {
    case 'workload':
      return { kind: 'workload', workload: convertWorkload(name, address.type.value) };
    case 'service':
      return { kind: 'service', service: convertService(name, address.type.value) };
    case undefined:
      return new ResourceProblems(`address ${quoted(name)}`).fail('type', 'required (workload or service)');
  }
}

/** The workload or service an Address resource carries: what the state store keeps under its name. */
export function addressFromResource(name: string, bytes: Uint8Array): Workload | Service {
  const converted = convertAddress(name, bytes);
  return converted.kind === 'workload' ? converted.workload : converted.service;
}

function convertWorkload(name: string, workload: wire.Workload): Workload {
  const problems = new ResourceProblems(`workload ${quoted(name)}`);
  if (workload.uid === '') {
    problems.add('uid', 'required');
  } else if (workload.uid !== name) {
    problems.add('uid', `${quoted(workload.uid)} does not match the resource name`);
  }

  const workloadIps: string[] = [];
  workload.addresses.forEach((raw, index) => {
    const ip = bytesToIp(raw);
    if (ip === undefined) {
      problems.add(`addresses[${String(index)}]`, `expected 4 or 16 bytes, got ${String(raw.length)}`);
    } else {
      workloadIps.push(ip);
    }
  });

  let tunnelProtocol: TunnelProtocol | undefined;
  if (workload.tunnelProtocol === wire.TunnelProtocol.LEGACY_ISTIO_MTLS) {
    problems.add('tunnel_protocol', 'LEGACY_ISTIO_MTLS is not supported (ztunnel refuses it too)');
  } else {
    tunnelProtocol = problems.enumValue('tunnel_protocol', TUNNEL_PROTOCOLS, workload.tunnelProtocol);
  }
  const workloadType = problems.enumValue('workload_type', WORKLOAD_TYPES, workload.workloadType);
  const status = problems.enumValue('status', WORKLOAD_STATUSES, workload.status);
  const services = convertWorkloadServices(workload.services, problems);
  const waypoint =
    workload.waypoint === undefined
      ? undefined
      : convertGatewayAddress('waypoint', workload.waypoint, problems);
  problems.throwIfAny();

  const { locality } = workload;
  return createWorkload({
    uid: workload.uid,
    name: workload.name,
    namespace: workload.namespace,
    workloadIps,
    network: workload.network,
    tunnelProtocol: problems.present(tunnelProtocol),
    trustDomain: workload.trustDomain,
    serviceAccount: workload.serviceAccount,
    node: workload.node,
    canonicalName: workload.canonicalName,
    canonicalRevision: workload.canonicalRevision,
    workloadName: workload.workloadName,
    workloadType: problems.present(workloadType),
    clusterId: workload.clusterId,
    status: problems.present(status),
    ...(locality === undefined
      ? {}
      : { locality: { region: locality.region, zone: locality.zone, subzone: locality.subzone } }),
    services,
    authorizationPolicies: workload.authorizationPolicies,
    ...(waypoint === undefined ? {} : { waypoint }),
  });
}

/** `services`: key `namespace/hostname` → service port → target port (0 = the service's own). */
function convertWorkloadServices(
  services: Readonly<Record<string, wire.PortList>>,
  problems: ResourceProblems,
): Map<string, ReadonlyMap<number, number>> {
  const converted = new Map<string, ReadonlyMap<number, number>>();
  for (const [key, portList] of Object.entries(services)) {
    const field = `services[${quoted(key)}]`;
    const slash = key.indexOf('/');
    if (slash <= 0 || slash === key.length - 1) {
      problems.add(field, 'key is not "namespace/hostname"');
      continue;
    }
    const ports = new Map<number, number>();
    portList.ports.forEach((port, index) => {
      const portField = `${field}.ports[${String(index)}]`;
      const serviceOk = problems.checkPort(`${portField}.service_port`, port.servicePort);
      const targetOk = problems.checkPort(`${portField}.target_port`, port.targetPort, true);
      if (serviceOk && targetOk) ports.set(port.servicePort, port.targetPort);
    });
    converted.set(key, ports);
  }
  return converted;
}

function convertService(name: string, service: wire.Service): Service {
  const problems = new ResourceProblems(`service ${quoted(name)}`);
  if (service.namespace === '') problems.add('namespace', 'required');
  if (service.hostname === '') problems.add('hostname', 'required');
  const key = serviceKey(service.namespace, service.hostname);
  if (service.namespace !== '' && service.hostname !== '' && key !== name) {
    problems.add('namespace/hostname', `${quoted(key)} does not match the resource name`);
  }

  const vips: ServiceVip[] = [];
  service.addresses.forEach((vip, index) => {
    const ip = bytesToIp(vip.address);
    if (ip === undefined) {
      problems.add(
        `addresses[${String(index)}].address`,
        `expected 4 or 16 bytes, got ${String(vip.address.length)}`,
      );
    } else {
      vips.push({ network: vip.network, ip });
    }
  });

  const ports: ServicePort[] = [];
  service.ports.forEach((port, index) => {
    const field = `ports[${String(index)}]`;
    const serviceOk = problems.checkPort(`${field}.service_port`, port.servicePort);
    const targetOk = problems.checkPort(`${field}.target_port`, port.targetPort, true);
    if (serviceOk && targetOk) ports.push({ servicePort: port.servicePort, targetPort: port.targetPort });
  });

  const waypoint =
    service.waypoint === undefined
      ? undefined
      : convertGatewayAddress('waypoint', service.waypoint, problems);
  problems.throwIfAny();

  return createService({
    name: service.name,
    namespace: service.namespace,
    hostname: service.hostname,
    vips,
    ports,
    subjectAltNames: service.subjectAltNames,
    ...(waypoint === undefined ? {} : { waypoint }),
  });
}
