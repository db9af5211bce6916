import type { Locality } from '@ambient/state';
import type { MeshInventory } from './inventory.js';
import type { ResolvedConvertOptions } from './options.js';
import type { PolicyAttachment } from './policy-attachment.js';
import type { ProblemCollector } from './problems.js';
import type { ServiceInfo } from './service-info.js';
import type { WaypointResolver } from './waypoints.js';

/** Everything a workload converter reads besides its own object. */
export interface WorkloadContext {
  readonly options: ResolvedConvertOptions;
  readonly inventory: MeshInventory;
  readonly services: readonly ServiceInfo[];
  readonly waypoints: WaypointResolver;
  readonly policies: PolicyAttachment;
  readonly problems: ProblemCollector;
}

/** Istio's `region/zone/subzone` locality text; undefined when it names nothing. */
export function parseLocality(text: string | undefined): Locality | undefined {
  if (text === undefined || text === '') return undefined;
  const [region = '', zone = '', subzone = ''] = text.split('/');
  return region === '' && zone === '' && subzone === '' ? undefined : { region, zone, subzone };
}
