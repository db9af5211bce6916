import type { IPeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';
import {
  authorizationKey,
  createAuthorization,
  EMPTY_MATCH,
  type Authorization,
  type AuthorizationGroup,
  type AuthorizationMatch,
  type AuthorizationRule,
} from '@ambient/state';
import { field } from './field-path.js';
import type { Accepted } from './inventory.js';
import { selectsAll, type Labels } from './labels.js';
import { parsePortText } from './match-values.js';
import { ObjectProblems, showValue, type ProblemCollector } from './problems.js';

/*
 * PeerAuthentication in ambient (reference §5.1, istiod's ambient policies): ztunnel has no mTLS
 * mode, so STRICT becomes a DENY policy against callers without an identity. One static policy serves
 * every workload whose effective mode is STRICT; a workload policy with port-level exceptions becomes
 * its own DENY policy, listed on the workloads it selects instead of the static one.
 */

type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/** Named with `_`, which Kubernetes names cannot contain, so it never collides with a user's policy. */
export const STATIC_STRICT_POLICY_NAME = 'istio_converted_static_strict';
const CONVERTED_POLICY_PREFIX = 'converted_peer_authentication_';

const NO_IDENTITY: AuthorizationMatch = { ...EMPTY_MATCH, notPrincipals: [{ kind: 'presence' }] };
const DENY_WITHOUT_IDENTITY: AuthorizationRule = { matches: [NO_IDENTITY] };

interface PeerPolicy {
  readonly name: string;
  readonly namespace: string;
  readonly createdAtMs: number;
  /** matchLabels; undefined or empty: namespace-wide (mesh-wide in the root namespace). */
  readonly selector: Labels | undefined;
  readonly mode: MtlsMode;
  /** Port → mode, ascending by port. */
  readonly portModes: readonly (readonly [number, MtlsMode])[];
}

function modeOf(mtls: { readonly mode?: MtlsMode } | undefined): MtlsMode {
  return mtls?.mode ?? 'UNSET';
}

function hasSelector(policy: PeerPolicy): boolean {
  return policy.selector !== undefined && Object.keys(policy.selector).length > 0;
}

/** Oldest first; the name breaks ties so that the choice never depends on input order. */
function older(a: PeerPolicy, b: PeerPolicy): boolean {
  return a.createdAtMs !== b.createdAtMs ? a.createdAtMs < b.createdAtMs : a.name < b.name;
}

function oldest(policies: readonly PeerPolicy[]): PeerPolicy | undefined {
  let result: PeerPolicy | undefined;
  for (const policy of policies) if (result === undefined || older(policy, result)) result = policy;
  return result;
}

function readPolicy(
  accepted: Accepted<IPeerAuthentication>,
  collector: ProblemCollector,
): PeerPolicy | undefined {
  const spec = accepted.value.spec ?? {};
  const problems = new ObjectProblems(collector, accepted.ref);
  const portModes: [number, MtlsMode][] = [];
  for (const [key, mtls] of Object.entries(spec.portLevelMtls ?? {})) {
    const port = parsePortText(key);
    if (port === undefined)
      problems.error(field('spec', 'portLevelMtls', key), `${showValue(key)} is not a port (1-65535)`);
    else portModes.push([port, modeOf(mtls)]);
  }
  if (problems.hasErrors) return undefined;
  portModes.sort((a, b) => a[0] - b[0]);
  return {
    name: accepted.name,
    namespace: accepted.namespace,
    createdAtMs: accepted.createdAtMs,
    selector: spec.selector?.matchLabels,
    mode: modeOf(spec.mtls),
    portModes,
  };
}

function convertedPolicyKey(policy: PeerPolicy): string {
  return authorizationKey(policy.namespace, `${CONVERTED_POLICY_PREFIX}${policy.name}`);
}

/**
 * The DENY policy for a workload PeerAuthentication with port-level modes, merged with the STRICT
 * of its namespace or mesh policy where that applies; undefined when the ports add nothing.
 */
function convertPortLevel(
  policy: PeerPolicy,
  namespacePolicy: PeerPolicy | undefined,
  meshPolicy: PeerPolicy | undefined,
): Authorization | undefined {
  const { mode } = policy;
  const nsMode = namespacePolicy?.mode;
  const meshMode = meshPolicy?.mode;
  const rules: AuthorizationRule[] = [];
  const groups: AuthorizationGroup[] = [];
  if (mode === 'STRICT') rules.push(DENY_WITHOUT_IDENTITY);
  // Whether the parents already make a port STRICT when this policy leaves the mode unset.
  const inheritedStrict =
    mode === 'UNSET' &&
    (nsMode === 'STRICT' || ((nsMode === undefined || nsMode === 'UNSET') && meshMode === 'STRICT'));
  let foundNonStrictPort = false;
  for (const [port, portMode] of policy.portModes) {
    if (portMode === 'STRICT') {
      if (mode === 'STRICT' || inheritedStrict) continue;
      // Groups are OR-ed: one per STRICT port.
      groups.push({ rules: [{ matches: [{ ...NO_IDENTITY, destinationPorts: [port] }] }] });
    } else if (portMode === 'PERMISSIVE' || portMode === 'DISABLE') {
      if (mode === 'PERMISSIVE' || mode === 'DISABLE') continue;
      const effectiveNotStrict =
        mode === 'UNSET' &&
        ((namespacePolicy !== undefined && nsMode !== 'STRICT') ||
          (namespacePolicy === undefined && meshPolicy !== undefined && meshMode !== 'STRICT') ||
          (namespacePolicy === undefined && meshPolicy === undefined));
      if (effectiveNotStrict) continue;
      foundNonStrictPort = true;
      // Deny only when the connection is not to this port: the port is exempt.
      rules.push({ matches: [{ ...EMPTY_MATCH, notDestinationPorts: [port] }] });
    }
  }
  if (mode === 'STRICT' && !foundNonStrictPort) return undefined;
  if (rules.length === 0 && groups.length === 0) return undefined;
  const mergeStrict =
    (meshMode === 'STRICT' && (nsMode === undefined || nsMode === 'UNSET' || nsMode === 'STRICT')) ||
    nsMode === 'STRICT';
  if (mergeStrict && foundNonStrictPort) rules.push(DENY_WITHOUT_IDENTITY);
  if (rules.length > 0) groups.push({ rules });
  return createAuthorization({
    name: `${CONVERTED_POLICY_PREFIX}${policy.name}`,
    namespace: policy.namespace,
    scope: 'WORKLOAD_SELECTOR',
    action: 'DENY',
    groups,
  });
}

export interface PeerAuthenticationResult {
  /** The static STRICT policy (when any PeerAuthentication exists) and the port-level policies. */
  readonly authorizations: readonly Authorization[];
  /** The policy keys a workload lists for its effective mTLS mode. */
  keysFor(namespace: string, labels: Labels): string[];
}

export function convertPeerAuthentications(
  accepted: readonly Accepted<IPeerAuthentication>[],
  rootNamespace: string,
  collector: ProblemCollector,
): PeerAuthenticationResult {
  const policies = accepted.flatMap((item) => readPolicy(item, collector) ?? []);
  const staticStrictKey = authorizationKey(rootNamespace, STATIC_STRICT_POLICY_NAME);
  const namespaceWide = (namespace: string): PeerPolicy | undefined =>
    oldest(policies.filter((p) => p.namespace === namespace && !hasSelector(p)));

  const authorizations: Authorization[] = [];
  if (accepted.length > 0) {
    authorizations.push(
      createAuthorization({
        name: STATIC_STRICT_POLICY_NAME,
        namespace: rootNamespace,
        scope: 'WORKLOAD_SELECTOR',
        action: 'DENY',
        groups: [{ rules: [DENY_WITHOUT_IDENTITY] }],
      }),
    );
  }
  const meshPolicy = namespaceWide(rootNamespace);
  for (const policy of policies) {
    if (policy.namespace === rootNamespace || !hasSelector(policy) || policy.portModes.length === 0) continue;
    const authorization = convertPortLevel(policy, namespaceWide(policy.namespace), meshPolicy);
    if (authorization) authorizations.push(authorization);
  }

  const keysFor = (namespace: string, labels: Labels): string[] => {
    const namespacePolicy = namespace === rootNamespace ? undefined : namespaceWide(namespace);
    const workloadPolicy =
      namespace === rootNamespace
        ? undefined
        : oldest(
            policies.filter(
              (p) => p.namespace === namespace && hasSelector(p) && selectsAll(p.selector ?? {}, labels),
            ),
          );
    let strict = meshPolicy?.mode === 'STRICT';
    if (namespacePolicy !== undefined && namespacePolicy.mode !== 'UNSET')
      strict = namespacePolicy.mode === 'STRICT';
    let portLevelKey: string | undefined;
    if (workloadPolicy !== undefined) {
      const { mode, portModes } = workloadPolicy;
      if (mode === 'STRICT') strict = true;
      if (mode === 'PERMISSIVE' || mode === 'DISABLE') strict = false;
      const anyPort = (wanted: readonly MtlsMode[]): boolean => portModes.some(([, m]) => wanted.includes(m));
      if (portModes.length > 0) {
        if (mode === 'STRICT') {
          if (anyPort(['PERMISSIVE', 'DISABLE'])) {
            portLevelKey = convertedPolicyKey(workloadPolicy);
            // The converted policy carries the STRICT default itself.
            strict = false;
          }
        } else if (mode === 'PERMISSIVE' || mode === 'DISABLE') {
          if (anyPort(['STRICT'])) portLevelKey = convertedPolicyKey(workloadPolicy);
        } else if (strict) {
          if (anyPort(['PERMISSIVE'])) {
            portLevelKey = convertedPolicyKey(workloadPolicy);
            strict = false;
          }
        } else {
          // Ports the policy does not name stay PERMISSIVE: the workload as a whole is not STRICT.
          strict = false;
          if (anyPort(['STRICT'])) portLevelKey = convertedPolicyKey(workloadPolicy);
        }
      }
    }
    const keys: string[] = [];
    if (strict) keys.push(staticStrictKey);
    if (portLevelKey !== undefined) keys.push(portLevelKey);
    return keys.sort();
  };
  return { authorizations, keysFor };
}
