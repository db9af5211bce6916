import { selectsNonEmpty, type Labels } from './labels.js';
import type { ServiceInfo } from './service-info.js';

/*
 * A workload's entry in `Workload.services`: for each service that selects it, service port → the
 * port this workload listens on. Kubernetes Services and ServiceEntries resolve names differently
 * (istiod's constructServices / constructServicesFromWorkloadEntry).
 */

export type ServicePorts = Map<string, Map<number, number>>;

/** Looks up a workload's own port by name: a pod's container ports, an entry's `ports` map. */
export type NamedPorts = (name: string) => number | undefined;

/**
 * Kubernetes Service: a named targetPort must resolve on the workload, or that port is left out
 * for it. ServiceEntry: a workload port named like the service port wins over the targetPort.
 * A WorkloadEntry may also override a Kubernetes Service's numeric target by the service port's name.
 */
function targetPorts(info: ServiceInfo, namedPort: NamedPorts, isEntry: boolean): Map<number, number> {
  const result = new Map<number, number>();
  for (const port of info.ports) {
    let target: number | undefined = port.targetPort;
    if (port.targetPortName !== undefined) {
      target = namedPort(port.targetPortName);
      if (target === undefined) continue;
    } else if ((info.source === 'ServiceEntry' || isEntry) && port.portName !== undefined) {
      target = namedPort(port.portName) ?? port.targetPort;
    }
    result.set(port.servicePort, target);
  }
  return result;
}

/** The services of `namespace` whose selector picks `labels`, with this workload's target ports. */
export function selectedServicePorts(
  services: readonly ServiceInfo[],
  namespace: string,
  labels: Labels,
  namedPort: NamedPorts,
  isEntry: boolean,
): ServicePorts {
  const result: ServicePorts = new Map();
  for (const info of services) {
    if (info.service.namespace !== namespace || !selectsNonEmpty(info.selector, labels)) continue;
    result.set(info.service.key, targetPorts(info, namedPort, isEntry));
  }
  return result;
}

/** A ServiceEntry's inline endpoint belongs to every host of its entry. */
export function ownServicePorts(services: readonly ServiceInfo[], namedPort: NamedPorts): ServicePorts {
  const result: ServicePorts = new Map();
  for (const info of services) result.set(info.service.key, targetPorts(info, namedPort, true));
  return result;
}
