export type Labels = Readonly<Record<string, string>>;

export const NO_LABELS: Labels = Object.freeze({});

// Istio's label and annotation names (istio.io/api `label` and `annotation` packages).
export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';
export const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint';
export const USE_WAYPOINT_NAMESPACE_LABEL = 'istio.io/use-waypoint-namespace';
export const WAYPOINT_FOR_LABEL = 'istio.io/waypoint-for';
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
export const GATEWAY_MANAGED_LABEL = 'gateway.istio.io/managed';
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
/** Set by istio-cni once it has redirected a pod's traffic to ztunnel. */
export const AMBIENT_REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';

/**
 * Whether `selector` (matchLabels semantics) selects `labels`. An absent or empty selector selects
 * nothing here: istiod's "selects non-empty" rule for Services and ServiceEntry workloadSelectors.
 */
export function selectsNonEmpty(selector: Labels | undefined, labels: Labels): boolean {
  if (selector === undefined) return false;
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

/** matchLabels semantics where an empty selector selects everything (policy selectors). */
export function selectsAll(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Labels;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

/** A Kubernetes LabelSelector (matchLabels AND matchExpressions); an empty one selects everything. */
export function labelSelectorMatches(selector: LabelSelector, labels: Labels): boolean {
  if (!selectsAll(selector.matchLabels ?? {}, labels)) return false;
  return (selector.matchExpressions ?? []).every((requirement) => {
    const present = Object.hasOwn(labels, requirement.key);
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case 'In':
        return present && values.includes(labels[requirement.key] ?? '');
      case 'NotIn':
        return !present || !values.includes(labels[requirement.key] ?? '');
      case 'Exists':
        return present;
      case 'DoesNotExist':
        return !present;
      default:
        // Kubernetes rejects other operators; an unknown one must not widen the selection.
        return false;
    }
  });
}
