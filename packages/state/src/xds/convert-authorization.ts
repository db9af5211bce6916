import { security } from '@ambient/protos';
import {
  authorizationKey,
  createAuthorization,
  type Authorization,
  type AuthorizationGroup,
  type AuthorizationMatch,
  type AuthorizationRule,
  type CidrMatch,
  type ServiceAccountMatch,
  type StringMatch,
} from '../authorization.js';
import { bytesToIp, maxPrefixBits } from './ip-bytes.js';
import { decodeMessage, quoted, ResourceProblems } from './resource-problems.js';
import { ACTIONS, SCOPES } from './wire-enums.js';

/**
 * Decodes and checks one `istio.security.Authorization` resource (reference §4.3, §5.1): known scope
 * and action, string matches with a match type, CIDRs of 4 or 16 bytes with a prefix that fits, ports
 * 1..65535, and an xDS name equal to `namespace/name`. A malformed entry rejects the whole policy
 * rather than being dropped: dropping an entry of a negative list would quietly widen what it allows.
 * Throws a MeshError (MESH_ERR_XDS_INVALID_RESOURCE) listing every problem.
 */
export function convertAuthorization(name: string, bytes: Uint8Array): Authorization {
  const subject = `authorization ${quoted(name)}`;
  const policy = decodeMessage(subject, 'istio.security.Authorization', () =>
    security.Authorization.decode(bytes),
  );
  const problems = new ResourceProblems(subject);
  if (policy.namespace === '') problems.add('namespace', 'required');
  if (policy.name === '') problems.add('name', 'required');
  const key = authorizationKey(policy.namespace, policy.name);
  if (policy.namespace !== '' && policy.name !== '' && key !== name) {
    problems.add('namespace/name', `${quoted(key)} does not match the resource name`);
  }
  const scope = problems.enumValue('scope', SCOPES, policy.scope);
  const action = problems.enumValue('action', ACTIONS, policy.action);
  const groups = policy.groups.map((group, g): AuthorizationGroup => ({
    rules: group.rules.map((rule, r): AuthorizationRule => ({
      matches: rule.matches.map((match, m) =>
        convertMatch(`groups[${String(g)}].rules[${String(r)}].matches[${String(m)}]`, match, problems),
      ),
    })),
  }));
  problems.throwIfAny();
  return createAuthorization({
    name: policy.name,
    namespace: policy.namespace,
    scope: problems.present(scope),
    action: problems.present(action),
    groups,
    dryRun: policy.dryRun,
  });
}

function convertMatch(field: string, match: security.Match, problems: ResourceProblems): AuthorizationMatch {
  const strings = (list: readonly security.StringMatch[], listField: string): StringMatch[] =>
    convertList(list, `${field}.${listField}`, problems, convertStringMatch);
  const cidrs = (list: readonly security.Address[], listField: string): CidrMatch[] =>
    convertList(list, `${field}.${listField}`, problems, convertCidr);
  const ports = (list: readonly number[], listField: string): number[] =>
    list.filter((port, index) => problems.checkPort(`${field}.${listField}[${String(index)}]`, port));
  return {
    namespaces: strings(match.namespaces, 'namespaces'),
    notNamespaces: strings(match.notNamespaces, 'not_namespaces'),
    serviceAccounts: match.serviceAccounts.map(serviceAccountMatch),
    notServiceAccounts: match.notServiceAccounts.map(serviceAccountMatch),
    principals: strings(match.principals, 'principals'),
    notPrincipals: strings(match.notPrincipals, 'not_principals'),
    sourceIps: cidrs(match.sourceIps, 'source_ips'),
    notSourceIps: cidrs(match.notSourceIps, 'not_source_ips'),
    destinationIps: cidrs(match.destinationIps, 'destination_ips'),
    notDestinationIps: cidrs(match.notDestinationIps, 'not_destination_ips'),
    destinationPorts: ports(match.destinationPorts, 'destination_ports'),
    notDestinationPorts: ports(match.notDestinationPorts, 'not_destination_ports'),
  };
}

/** Each item converted under `field[i]`; items with problems are left out (the resource is rejected anyway). */
function convertList<W, M>(
  list: readonly W[],
  field: string,
  problems: ResourceProblems,
  convert: (item: W, itemField: string, problems: ResourceProblems) => M | undefined,
): M[] {
  const converted: M[] = [];
  list.forEach((item, index) => {
    const value = convert(item, `${field}[${String(index)}]`, problems);
    if (value !== undefined) converted.push(value);
  });
  return converted;
}

function convertStringMatch(
  match: security.StringMatch,
  field: string,
  problems: ResourceProblems,
): StringMatch | undefined {
  const matchType = match.matchType;
  switch (matchType?.$case) {
    case 'exact':
    case 'prefix':
    case 'suffix':
      return { kind: matchType.$case, value: matchType.value };
    case 'presence':
      return { kind: 'presence' };
    case undefined:
      problems.add(field, 'no match type (exact, prefix, suffix or presence)');
      return undefined;
  }
}

/**
 * A CIDR keeps the family it was sent in: `::ffff:1.2.3.4/120` stays IPv6 text, because its prefix
 * length counts IPv6 bits (policy evaluation maps it onto IPv4 peers).
 */
function convertCidr(
  address: security.Address,
  field: string,
  problems: ResourceProblems,
): CidrMatch | undefined {
  const ip = bytesToIp(address.address);
  if (ip === undefined) {
    problems.add(`${field}.address`, `expected 4 or 16 bytes, got ${String(address.address.length)}`);
    return undefined;
  }
  const maxBits = maxPrefixBits(address.address);
  if (address.length > maxBits) {
    problems.add(
      `${field}.length`,
      `prefix length ${String(address.length)} is longer than ${String(maxBits)}`,
    );
    return undefined;
  }
  return { ip, prefixLength: address.length };
}

function serviceAccountMatch(match: security.ServiceAccountMatch): ServiceAccountMatch {
  return { namespace: match.namespace, serviceAccount: match.serviceAccount };
}
