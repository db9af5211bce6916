import type { TunnelProtocol } from '@ambient/state';
import { AMBIENT_REDIRECTION_ANNOTATION, DATAPLANE_MODE_LABEL, type Labels } from './labels.js';

const AMBIENT = 'ambient';
const OPTED_OUT = 'none';
const REDIRECTION_ENABLED = 'enabled';

export interface EnrollmentInput {
  /** The workload's own labels (a Pod's, a WorkloadEntry's, a ServiceEntry endpoint's). */
  readonly labels: Labels;
  readonly annotations?: Labels;
  readonly namespaceLabels: Labels;
  /** Pods on the node's network cannot be captured. */
  readonly hostNetwork?: boolean;
}

/**
 * Whether ztunnel reaches this workload over HBONE: enrolled by its namespace's or its own
 * `istio.io/dataplane-mode: ambient`, opted out by its own `istio.io/dataplane-mode: none`. A pod
 * istio-cni reports as redirected (`ambient.istio.io/redirection: enabled`) is enrolled whatever its
 * labels say now: its traffic already goes through ztunnel. Workloads that are not enrolled are still
 * sent, with NONE, so that others reach them in plain TCP.
 */
export function tunnelProtocolOf(input: EnrollmentInput): TunnelProtocol {
  if (input.hostNetwork === true) return 'NONE';
  if (input.annotations?.[AMBIENT_REDIRECTION_ANNOTATION] === REDIRECTION_ENABLED) return 'HBONE';
  const own = input.labels[DATAPLANE_MODE_LABEL];
  if (own === OPTED_OUT) return 'NONE';
  if (own === AMBIENT) return 'HBONE';
  return input.namespaceLabels[DATAPLANE_MODE_LABEL] === AMBIENT ? 'HBONE' : 'NONE';
}
