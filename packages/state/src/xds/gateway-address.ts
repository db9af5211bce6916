import { ErrorCode, MeshError } from '@ambient/core';
import { workload as wire } from '@ambient/protos';
import type { GatewayAddress } from '../model.js';
import { bytesToIp, ipToBytes } from './ip-bytes.js';
import type { ResourceProblems } from './resource-problems.js';

/** What istiod leaves out when the waypoint listens on the standard HBONE port. */
export const DEFAULT_HBONE_MTLS_PORT = 15008;

/** A waypoint's `GatewayAddress`, checked field by field under `field` (e.g. `waypoint`). */
export function convertGatewayAddress(
  field: string,
  gateway: wire.GatewayAddress,
  problems: ResourceProblems,
): GatewayAddress | undefined {
  const port = gateway.hboneMtlsPort === 0 ? DEFAULT_HBONE_MTLS_PORT : gateway.hboneMtlsPort;
  const portOk = problems.checkPort(`${field}.hbone_mtls_port`, port);
  const destination = gateway.destination;
  if (destination === undefined) {
    problems.add(`${field}.destination`, 'required (hostname or address)');
    return undefined;
  }
  if (destination.$case === 'address') {
    const { network, address } = destination.value;
    const ip = bytesToIp(address);
    if (ip === undefined) {
      problems.add(`${field}.address.address`, `expected 4 or 16 bytes, got ${String(address.length)}`);
      return undefined;
    }
    return portOk ? { kind: 'address', network, ip, hboneMtlsPort: port } : undefined;
  }
  const { namespace, hostname } = destination.value;
  if (namespace === '') problems.add(`${field}.hostname.namespace`, 'required');
  if (hostname === '') problems.add(`${field}.hostname.hostname`, 'required');
  if (namespace === '' || hostname === '' || !portOk) return undefined;
  return { kind: 'hostname', namespace, hostname, hboneMtlsPort: port };
}

/** The wire form of a waypoint; `subject` names the resource if the model holds a bad address. */
export function encodeGatewayAddress(subject: string, gateway: GatewayAddress): wire.GatewayAddress {
  if (gateway.kind === 'hostname') {
    return {
      destination: { $case: 'hostname', value: { namespace: gateway.namespace, hostname: gateway.hostname } },
      hboneMtlsPort: gateway.hboneMtlsPort,
    };
  }
  return {
    destination: {
      $case: 'address',
      value: { network: gateway.network, address: requireIpBytes(subject, 'waypoint.ip', gateway.ip) },
    },
    hboneMtlsPort: gateway.hboneMtlsPort,
  };
}

/** Bytes of a model address; a model holding a non-address is a bug in whoever built it. */
export function requireIpBytes(subject: string, field: string, ip: string): Buffer {
  const bytes = ipToBytes(ip);
  if (bytes === undefined) {
    throw new MeshError(
      ErrorCode.XdsInvalidResource,
      `${subject}: ${field}: ${JSON.stringify(ip)} is not an IP address`,
    );
  }
  return bytes;
}
