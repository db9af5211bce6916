import type { Service } from '@ambient/state';
import type { Labels } from './labels.js';

/** One port of a service, with the names endpoints resolve their own target port by. */
export interface ServicePortInfo {
  readonly servicePort: number;
  /** Numeric target port; 0 when a Kubernetes Service names it (`targetPortName`). */
  readonly targetPort: number;
  readonly portName: string | undefined;
  /** A Kubernetes Service's `targetPort: http`: each endpoint has its own number for it. */
  readonly targetPortName: string | undefined;
}

/** A converted service and what decides which workloads are its endpoints. */
export interface ServiceInfo {
  readonly service: Service;
  /** Kubernetes Services and ServiceEntries name target ports differently. */
  readonly source: 'Service' | 'ServiceEntry';
  /** Selects workloads of the service's namespace; absent or empty selects none. */
  readonly selector: Labels | undefined;
  readonly ports: readonly ServicePortInfo[];
}
