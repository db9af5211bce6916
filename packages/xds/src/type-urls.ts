/** ztunnel's workload and service type: `istio.workload.Address` (a Workload or a Service). */
export const ADDRESS_TYPE_URL = 'type.googleapis.com/istio.workload.Address';
/** ztunnel's L4 policy type: `istio.security.Authorization`. */
export const AUTHORIZATION_TYPE_URL = 'type.googleapis.com/istio.security.Authorization';

/**
 * The `type` label istiod's pilot_xds_pushes uses for a type URL (istio `pkg/model/xds.go`
 * GetMetricType): short names for the types it knows, the URL itself for any other.
 */
export function metricType(typeUrl: string): string {
  switch (typeUrl) {
    case ADDRESS_TYPE_URL:
      return 'wds';
    case AUTHORIZATION_TYPE_URL:
      return 'wads';
    default:
      return typeUrl;
  }
}
