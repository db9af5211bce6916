import { isIP } from 'node:net';
import type { IService } from 'kubernetes-models/v1/Service';
import { createService } from '@ambient/state';
import { clusterIpsOf } from './cluster-ips.js';
import type { Accepted } from './inventory.js';
import { kubeServiceHostname, type ResolvedConvertOptions } from './options.js';
import { ObjectProblems, showValue, type ProblemCollector } from './problems.js';
import type { ServiceInfo, ServicePortInfo } from './service-info.js';
import type { WaypointResolver } from './waypoints.js';

type KubeServicePort = NonNullable<NonNullable<IService['spec']>['ports']>[number];

/** The API server defaults an absent targetPort to the port; a name is resolved per endpoint. */
function portInfo(port: KubeServicePort): ServicePortInfo {
  const target = port.targetPort;
  const portName = port.name;
  if (target === undefined)
    return { servicePort: port.port, targetPort: port.port, portName, targetPortName: undefined };
  if (typeof target === 'number')
    return { servicePort: port.port, targetPort: target, portName, targetPortName: undefined };
  if (/^\d+$/.test(target)) {
    return { servicePort: port.port, targetPort: Number(target), portName, targetPortName: undefined };
  }
  return { servicePort: port.port, targetPort: 0, portName, targetPortName: target };
}

/**
 * One Kubernetes Service → one service `<name>.<namespace>.svc.<suffix>` with its cluster IPs as
 * VIPs. ExternalName services are not sent (istiod leaves them to DNS).
 */
export function convertKubeService(
  accepted: Accepted<IService>,
  options: ResolvedConvertOptions,
  waypoints: WaypointResolver,
  collector: ProblemCollector,
): ServiceInfo | undefined {
  const spec = accepted.value.spec ?? {};
  if (spec.type === 'ExternalName') return undefined;
  const problems = new ObjectProblems(collector, accepted.ref);
  const ips = clusterIpsOf(accepted.value);
  const ipsField =
    spec.clusterIPs !== undefined && spec.clusterIPs.length > 0 ? 'spec.clusterIPs' : 'spec.clusterIP';
  ips.forEach((ip, index) => {
    if (isIP(ip) === 0) {
      problems.error(
        ipsField === 'spec.clusterIP' ? ipsField : `${ipsField}[${String(index)}]`,
        `${showValue(ip)} is not an IP address`,
      );
    }
  });
  if (problems.hasErrors) return undefined;
  const ports = (spec.ports ?? []).map(portInfo);
  const waypoint = waypoints.forService(
    { ref: accepted.ref, namespace: accepted.namespace, labels: accepted.labels },
    accepted.name,
  );
  const service = createService({
    name: accepted.name,
    namespace: accepted.namespace,
    hostname: kubeServiceHostname(accepted.name, accepted.namespace, options.domainSuffix),
    vips: ips.map((ip) => ({ network: options.network, ip })),
    ports: ports.map((port) => ({ servicePort: port.servicePort, targetPort: port.targetPort })),
    ...(waypoint === undefined ? {} : { waypoint }),
  });
  return { service, source: 'Service', selector: spec.selector, ports };
}
