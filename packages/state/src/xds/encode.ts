import { ErrorCode, MeshError } from '@ambient/core';
import { security, workload as wire } from '@ambient/protos';
import type { Authorization, AuthorizationMatch, CidrMatch, StringMatch } from '../authorization.js';
import type { Service, Workload } from '../model.js';
import { encodeGatewayAddress, requireIpBytes } from './gateway-address.js';
import { maxPrefixBits } from './ip-bytes.js';
import { quoted } from './resource-problems.js';
import {
  ACTIONS,
  SCOPES,
  TUNNEL_PROTOCOLS,
  WORKLOAD_STATUSES,
  WORKLOAD_TYPES,
  wireNumber,
} from './wire-enums.js';

/*
 * Model → xDS bytes, for the control plane and for tests: what `convertAddress` and
 * `convertAuthorization` read back as an equal model. A model holding something the wire cannot
 * carry (an IP that is not one, a prefix too long) throws: that is a bug in whoever built it, and
 * sending it would only earn a NACK.
 */

/** A workload as an `istio.workload.Address` resource (its xDS name is its uid). */
export function encodeWorkload(workload: Workload): Uint8Array {
  const subject = `workload ${quoted(workload.uid)}`;
  const services: Record<string, wire.PortList> = {};
  for (const [key, ports] of workload.services) {
    services[key] = {
      ports: [...ports].map(([servicePort, targetPort]) => ({
        servicePort,
        targetPort,
        appProtocol: wire.AppProtocol.UNKNOWN,
      })),
    };
  }
  const message: wire.Workload = {
    ...wire.Workload.create(),
    uid: workload.uid,
    name: workload.name,
    namespace: workload.namespace,
    addresses: workload.workloadIps.map((ip, index) =>
      requireIpBytes(subject, `workloadIps[${String(index)}]`, ip),
    ),
    network: workload.network,
    tunnelProtocol: wireNumber(TUNNEL_PROTOCOLS, workload.tunnelProtocol),
    trustDomain: workload.trustDomain,
    serviceAccount: workload.serviceAccount,
    node: workload.node,
    canonicalName: workload.canonicalName,
    canonicalRevision: workload.canonicalRevision,
    workloadType: wireNumber(WORKLOAD_TYPES, workload.workloadType),
    workloadName: workload.workloadName,
    services,
    authorizationPolicies: [...workload.authorizationPolicies],
    status: wireNumber(WORKLOAD_STATUSES, workload.status),
    clusterId: workload.clusterId,
    ...(workload.locality === undefined ? {} : { locality: { ...workload.locality } }),
    ...(workload.waypoint === undefined
      ? {}
      : { waypoint: encodeGatewayAddress(subject, workload.waypoint) }),
  };
  return wire.Address.encode({ type: { $case: 'workload', value: message } }).finish();
}

/** A service as an `istio.workload.Address` resource (its xDS name is `namespace/hostname`). */
export function encodeService(service: Service): Uint8Array {
  const subject = `service ${quoted(service.key)}`;
  const message: wire.Service = {
    ...wire.Service.create(),
    name: service.name,
    namespace: service.namespace,
    hostname: service.hostname,
    addresses: service.vips.map((vip, index) => ({
      network: vip.network,
      address: requireIpBytes(subject, `vips[${String(index)}]`, vip.ip),
    })),
    ports: service.ports.map((port) => ({
      servicePort: port.servicePort,
      targetPort: port.targetPort,
      appProtocol: wire.AppProtocol.UNKNOWN,
    })),
    subjectAltNames: [...service.subjectAltNames],
    ...(service.waypoint === undefined ? {} : { waypoint: encodeGatewayAddress(subject, service.waypoint) }),
  };
  return wire.Address.encode({ type: { $case: 'service', value: message } }).finish();
}

/** A policy as an `istio.security.Authorization` resource (its xDS name is `namespace/name`). */
export function encodeAuthorization(policy: Authorization): Uint8Array {
  const subject = `authorization ${quoted(policy.key)}`;
  const message: security.Authorization = {
    name: policy.name,
    namespace: policy.namespace,
    scope: wireNumber(SCOPES, policy.scope),
    action: wireNumber(ACTIONS, policy.action),
    groups: policy.groups.map((group, g) => ({
      rules: group.rules.map((rule, r) => ({
        matches: rule.matches.map((match, m) =>
          encodeMatch(subject, `groups[${String(g)}].rules[${String(r)}].matches[${String(m)}]`, match),
        ),
      })),
    })),
    dryRun: policy.dryRun,
    extensions: [],
  };
  return security.Authorization.encode(message).finish();
}

function encodeMatch(subject: string, field: string, match: AuthorizationMatch): security.Match {
  const cidrs = (list: readonly CidrMatch[], listField: string): security.Address[] =>
    list.map((cidr, index) => encodeCidr(subject, `${field}.${listField}[${String(index)}]`, cidr));
  return {
    namespaces: match.namespaces.map(encodeStringMatch),
    notNamespaces: match.notNamespaces.map(encodeStringMatch),
    serviceAccounts: match.serviceAccounts.map((sa) => ({ ...sa })),
    notServiceAccounts: match.notServiceAccounts.map((sa) => ({ ...sa })),
    principals: match.principals.map(encodeStringMatch),
    notPrincipals: match.notPrincipals.map(encodeStringMatch),
    sourceIps: cidrs(match.sourceIps, 'sourceIps'),
    notSourceIps: cidrs(match.notSourceIps, 'notSourceIps'),
    destinationIps: cidrs(match.destinationIps, 'destinationIps'),
    notDestinationIps: cidrs(match.notDestinationIps, 'notDestinationIps'),
    destinationPorts: [...match.destinationPorts],
    notDestinationPorts: [...match.notDestinationPorts],
    extensions: [],
  };
}

function encodeStringMatch(match: StringMatch): security.StringMatch {
  return match.kind === 'presence'
    ? { matchType: { $case: 'presence', value: {} } }
    : { matchType: { $case: match.kind, value: match.value } };
}

function encodeCidr(subject: string, field: string, cidr: CidrMatch): security.Address {
  const address = requireIpBytes(subject, `${field}.ip`, cidr.ip);
  const maxBits = maxPrefixBits(address);
  if (!Number.isInteger(cidr.prefixLength) || cidr.prefixLength < 0 || cidr.prefixLength > maxBits) {
    throw new MeshError(
      ErrorCode.XdsInvalidResource,
      `${subject}: ${field}.prefixLength: ${String(cidr.prefixLength)} is not 0-${String(maxBits)}`,
    );
  }
  return { address, length: cidr.prefixLength };
}
