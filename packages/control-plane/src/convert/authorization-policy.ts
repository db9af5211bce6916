import type { IAuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import {
  createAuthorization,
  EMPTY_MATCH,
  type Authorization,
  type AuthorizationAction,
  type AuthorizationGroup,
  type AuthorizationMatch,
  type AuthorizationRule,
  type CidrMatch,
  type ServiceAccountMatch,
  type StringMatch,
} from '@ambient/state';
import { field } from './field-path.js';
import type { Accepted } from './inventory.js';
import { DRY_RUN_ANNOTATION, type Labels } from './labels.js';
import { parseCidr, parsePortText, toStringMatch } from './match-values.js';
import { ObjectProblems, showValue, type ProblemCollector } from './problems.js';

/*
 * AuthorizationPolicy → istio.security.Authorization, as istiod converts it for ztunnel (reference
 * §5.1): one group per rule, holding a Rules for `to` (ports), one for `from` (identities and source
 * IPs) and one per `when` condition. What ztunnel cannot see (HTTP attributes) is left out in the
 * direction that can only make the policy stricter, and the operator is warned.
 */

type PolicySpec = NonNullable<IAuthorizationPolicy['spec']>;
type PolicyRule = NonNullable<PolicySpec['rules']>[number];
type PolicySource = NonNullable<NonNullable<PolicyRule['from']>[number]['source']>;
type PolicyOperation = NonNullable<NonNullable<PolicyRule['to']>[number]['operation']>;
type PolicyCondition = NonNullable<PolicyRule['when']>[number];

export interface ConvertedAuthorization {
  readonly authorization: Authorization;
  /** matchLabels of a WORKLOAD_SELECTOR policy: the workloads it selects list its key. */
  readonly selector?: Labels;
}

const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
const HTTP_SOURCE_FIELDS = [
  'remoteIpBlocks',
  'notRemoteIpBlocks',
  'requestPrincipals',
  'notRequestPrincipals',
] as const;
// Go's strconv.ParseBool, which istiod reads the dry-run annotation with.
const TRUE_TEXTS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_TEXTS = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Reads one rule's values, reporting unparsable ones against their field. */
class RuleReader {
  /** Fields holding HTTP attributes, for the warning. */
  readonly httpFields: string[] = [];

  constructor(
    private readonly problems: ObjectProblems,
    private readonly policyNamespace: string,
  ) {}

  strings(values: readonly string[] | undefined): StringMatch[] {
    return (values ?? []).map(toStringMatch);
  }

  serviceAccounts(values: readonly string[] | undefined): ServiceAccountMatch[] {
    return (values ?? []).map((value) => {
      const slash = value.indexOf('/');
      // A bare name is a service account of the policy's own namespace.
      return slash < 0
        ? { namespace: this.policyNamespace, serviceAccount: value }
        : { namespace: value.slice(0, slash), serviceAccount: value.slice(slash + 1) };
    });
  }

  cidrs(values: readonly string[] | undefined, at: string): CidrMatch[] {
    const result: CidrMatch[] = [];
    (values ?? []).forEach((value, index) => {
      const cidr = parseCidr(value);
      if (cidr) result.push(cidr);
      else this.problems.error(field(at, index), `${showValue(value)} is not an IP address or CIDR`);
    });
    return result;
  }

  ports(values: readonly string[] | undefined, at: string): number[] {
    const result: number[] = [];
    (values ?? []).forEach((value, index) => {
      const port = parsePortText(value);
      if (port === undefined)
        this.problems.error(field(at, index), `${showValue(value)} is not a port (1-65535)`);
      else result.push(port);
    });
    return result;
  }

  noteHttp<K extends string>(
    object: Partial<Record<K, readonly string[]>>,
    keys: readonly K[],
    at: string,
  ): void {
    for (const key of keys) {
      if ((object[key] ?? []).length > 0) this.httpFields.push(field(at, key));
    }
  }
}

function operationMatch(reader: RuleReader, operation: PolicyOperation, at: string): AuthorizationMatch {
  reader.noteHttp(operation, HTTP_OPERATION_FIELDS, at);
  return {
    ...EMPTY_MATCH,
    destinationPorts: reader.ports(operation.ports, field(at, 'ports')),
    notDestinationPorts: reader.ports(operation.notPorts, field(at, 'notPorts')),
  };
}

function sourceMatch(reader: RuleReader, source: PolicySource, at: string): AuthorizationMatch {
  reader.noteHttp(source, HTTP_SOURCE_FIELDS, at);
  return {
    ...EMPTY_MATCH,
    sourceIps: reader.cidrs(source.ipBlocks, field(at, 'ipBlocks')),
    notSourceIps: reader.cidrs(source.notIpBlocks, field(at, 'notIpBlocks')),
    namespaces: reader.strings(source.namespaces),
    notNamespaces: reader.strings(source.notNamespaces),
    serviceAccounts: reader.serviceAccounts(source.serviceAccounts),
    notServiceAccounts: reader.serviceAccounts(source.notServiceAccounts),
    principals: reader.strings(source.principals),
    notPrincipals: reader.strings(source.notPrincipals),
  };
}

/**
 * One `when` as a Match: its values fill the positive field of its key, notValues the negative one.
 * ztunnel can evaluate source.ip, source.namespace, source.principal, destination.ip and
 * destination.port; every other key is an HTTP attribute.
 */
function conditionMatch(reader: RuleReader, condition: PolicyCondition, at: string): AuthorizationMatch {
  const { key, values, notValues } = condition;
  switch (key) {
    case 'source.namespace':
      return { ...EMPTY_MATCH, namespaces: reader.strings(values), notNamespaces: reader.strings(notValues) };
    case 'source.principal':
      return { ...EMPTY_MATCH, principals: reader.strings(values), notPrincipals: reader.strings(notValues) };
    case 'source.ip':
      return {
        ...EMPTY_MATCH,
        sourceIps: reader.cidrs(values, field(at, 'values')),
        notSourceIps: reader.cidrs(notValues, field(at, 'notValues')),
      };
    case 'destination.ip':
      return {
        ...EMPTY_MATCH,
        destinationIps: reader.cidrs(values, field(at, 'values')),
        notDestinationIps: reader.cidrs(notValues, field(at, 'notValues')),
      };
    case 'destination.port':
      return {
        ...EMPTY_MATCH,
        destinationPorts: reader.ports(values, field(at, 'values')),
        notDestinationPorts: reader.ports(notValues, field(at, 'notValues')),
      };
    default:
      // An HTTP attribute: nothing ztunnel can match on. Kept empty (never matches) like istiod.
      reader.httpFields.push(field(at, 'key'));
      return EMPTY_MATCH;
  }
}

interface ConvertedRule {
  /** Undefined when the rule is dropped (an ALLOW rule with HTTP attributes). */
  readonly group: AuthorizationGroup | undefined;
  readonly httpFields: readonly string[];
}

function convertRule(
  rule: PolicyRule,
  at: string,
  action: AuthorizationAction,
  problems: ObjectProblems,
  policyNamespace: string,
): ConvertedRule {
  const reader = new RuleReader(problems, policyNamespace);
  const rules: AuthorizationRule[] = [];
  const to = rule.to ?? [];
  const from = rule.from ?? [];
  if (to.length > 0) {
    rules.push({
      matches: to.map((entry, index) =>
        operationMatch(reader, entry.operation ?? {}, field(at, 'to', index, 'operation')),
      ),
    });
  }
  if (from.length > 0) {
    rules.push({
      matches: from.map((entry, index) =>
        sourceMatch(reader, entry.source ?? {}, field(at, 'from', index, 'source')),
      ),
    });
  }
  (rule.when ?? []).forEach((condition, index) => {
    rules.push({ matches: [conditionMatch(reader, condition, field(at, 'when', index))] });
  });
  // An ALLOW rule that needs HTTP attributes can never be satisfied at L4: leaving it out only
  // narrows what the policy allows. A DENY keeps its L4 parts, which only widens what it denies.
  const dropped = action === 'ALLOW' && reader.httpFields.length > 0;
  return { group: dropped ? undefined : { rules }, httpFields: [...new Set(reader.httpFields)] };
}

function isEmptyMatch(match: AuthorizationMatch): boolean {
  return Object.values(match).every((list: readonly unknown[]) => list.length === 0);
}

/** Whether some group can fire at ztunnel: empty matches are skipped there, so they never match. */
function hasEnforceableGroup(groups: readonly AuthorizationGroup[]): boolean {
  return groups.some((group) =>
    group.rules.every((rule) => rule.matches.some((match) => !isEmptyMatch(match))),
  );
}

function httpWarning(action: AuthorizationAction, enforceable: boolean): string {
  const lead = 'ztunnel cannot enforce HTTP attributes; use a waypoint (targetRefs) for HTTP rules.';
  if (action === 'ALLOW')
    return `${lead} The rule using it is left out of this ALLOW policy, which makes it stricter than written.`;
  return enforceable
    ? `${lead} This DENY policy is enforced without it, which makes it stricter than written.`
    : `${lead} Without it this DENY policy has nothing ztunnel can enforce and has no effect.`;
}

function dryRunOf(policy: Accepted<IAuthorizationPolicy>, problems: ObjectProblems): boolean {
  const text = policy.annotations[DRY_RUN_ANNOTATION];
  if (text === undefined || text === '') return false;
  if (TRUE_TEXTS.has(text)) return true;
  if (!FALSE_TEXTS.has(text)) {
    problems.warn(
      field('metadata', 'annotations', DRY_RUN_ANNOTATION),
      `${showValue(text)} is not true or false; the policy is enforced`,
    );
  }
  return false;
}

/**
 * A policy we cannot read exactly must not open what it was written to close (fail closed): an ALLOW
 * policy then allows nothing (no groups: other ALLOW policies still allow what they allow), a DENY
 * policy denies everything in its scope (one group without rules matches every connection). Dropping
 * it instead would open a workload whose only ALLOW policy had a typo, or lift a DENY.
 */
function failClosedGroups(action: AuthorizationAction): AuthorizationGroup[] {
  return action === 'ALLOW' ? [] : [{ rules: [] }];
}

const FAIL_CLOSED_MESSAGE: Record<AuthorizationAction, string> = {
  ALLOW: 'the policy cannot be read as written: until it is fixed it allows nothing (fail closed)',
  DENY: 'the policy cannot be read as written: until it is fixed it denies every connection in its scope (fail closed)',
};

/**
 * The Authorization ztunnel enforces for one AuthorizationPolicy, or undefined when ztunnel has
 * nothing to enforce: a waypoint policy (targetRef, skipped silently) or an AUDIT or CUSTOM action.
 * A value that does not parse is reported and the policy fails closed (see `failClosedGroups`).
 */
export function convertAuthorizationPolicy(
  policy: Accepted<IAuthorizationPolicy>,
  rootNamespace: string,
  collector: ProblemCollector,
): ConvertedAuthorization | undefined {
  const spec: PolicySpec = policy.value.spec ?? {};
  if (spec.targetRef !== undefined || (spec.targetRefs ?? []).length > 0) return undefined;
  const problems = new ObjectProblems(collector, policy.ref);
  let action: AuthorizationAction;
  switch (spec.action) {
    case undefined:
    case 'ALLOW':
      action = 'ALLOW';
      break;
    case 'DENY':
      action = 'DENY';
      break;
    default:
      problems.error(
        'spec.action',
        `ztunnel does not support the ${spec.action} action; the policy is not sent`,
      );
      return undefined;
  }
  const dryRun = dryRunOf(policy, problems);

  const groups: AuthorizationGroup[] = [];
  const httpFields: string[] = [];
  (spec.rules ?? []).forEach((rule, index) => {
    const converted = convertRule(rule, field('spec', 'rules', index), action, problems, policy.namespace);
    if (converted.group) groups.push(converted.group);
    httpFields.push(...converted.httpFields);
  });
  const failed = problems.hasErrors;
  if (failed) problems.error('spec.rules', FAIL_CLOSED_MESSAGE[action]);
  if (!failed && httpFields.length > 0) {
    const message = httpWarning(action, hasEnforceableGroup(groups));
    for (const httpField of httpFields) problems.warn(httpField, message);
  }

  const selector = spec.selector;
  const scope =
    selector !== undefined
      ? 'WORKLOAD_SELECTOR'
      : policy.namespace === rootNamespace
        ? 'GLOBAL'
        : 'NAMESPACE';
  const authorization = createAuthorization({
    name: policy.name,
    namespace: policy.namespace,
    scope,
    action,
    groups: failed ? failClosedGroups(action) : groups,
    dryRun,
  });
  return selector === undefined ? { authorization } : { authorization, selector: selector.matchLabels ?? {} };
}
