import type { IService } from 'kubernetes-models/v1/Service';

/** A headless Service's clusterIP: no VIP. */
const HEADLESS = 'None';

/** A Kubernetes Service's VIPs: `clusterIPs`, else `clusterIP`; none for a headless service. */
export function clusterIpsOf(service: IService): string[] {
  const spec = service.spec ?? {};
  const ips =
    spec.clusterIPs !== undefined && spec.clusterIPs.length > 0 ? spec.clusterIPs : [spec.clusterIP ?? ''];
  return ips.filter((ip) => ip !== '' && ip !== HEADLESS);
}
