import { isIP } from 'node:net';
import type { IServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry';
import { createService, createWorkload, serviceKey, type Workload } from '@ambient/state';
import { ownServicePorts } from './endpoint-ports.js';
import { tunnelProtocolOf } from './enrollment.js';
import { field } from './field-path.js';
import { namespaceLabels, type Accepted } from './inventory.js';
import { NO_LABELS } from './labels.js';
import { parseCidr } from './match-values.js';
import type { ResolvedConvertOptions } from './options.js';
import { showValue, type ProblemCollector } from './problems.js';
import type { ServiceInfo, ServicePortInfo } from './service-info.js';
import type { WaypointResolver } from './waypoints.js';
import { parseLocality, type WorkloadContext } from './workload-context.js';
import { canonicalService } from './workload-names.js';

const HOST_PREFIX_BITS = { 4: 32, 6: 128 } as const;

/** `spec.addresses` as VIPs; a CIDR wider than one address has no VIP form here and is left out. */
function entryVips(entry: Accepted<IServiceEntry>, collector: ProblemCollector): string[] {
  const vips: string[] = [];
  (entry.value.spec.addresses ?? []).forEach((text, index) => {
    const at = field('spec', 'addresses', index);
    const cidr = parseCidr(text);
    if (cidr === undefined) {
      collector.error(entry.ref, at, `${showValue(text)} is not an IP address or CIDR; left out`);
    } else if (cidr.prefixLength !== HOST_PREFIX_BITS[isIP(cidr.ip) === 6 ? 6 : 4]) {
      collector.error(
        entry.ref,
        at,
        `${showValue(text)}: CIDR addresses are not supported (only single addresses); left out`,
      );
    } else {
      vips.push(cidr.ip);
    }
  });
  return vips;
}

/**
 * One service per host (`<namespace>/<host>`), named after the ServiceEntry. A host whose key is
 * already taken (by a Kubernetes Service or an older ServiceEntry) is reported and left out.
 */
export function convertServiceEntry(
  entry: Accepted<IServiceEntry>,
  options: ResolvedConvertOptions,
  waypoints: WaypointResolver,
  takenKeys: Map<string, string>,
  collector: ProblemCollector,
): ServiceInfo[] {
  const spec = entry.value.spec;
  const vips = entryVips(entry, collector);
  // ServiceEntry has no named targetPort: an absent targetPort is the port itself.
  const ports: ServicePortInfo[] = (spec.ports ?? []).map((port) => ({
    servicePort: port.number,
    targetPort: port.targetPort !== undefined && port.targetPort !== 0 ? port.targetPort : port.number,
    portName: port.name,
    targetPortName: undefined,
  }));
  const waypoint = waypoints.forService(
    { ref: entry.ref, namespace: entry.namespace, labels: entry.labels },
    entry.name,
  );
  const infos: ServiceInfo[] = [];
  spec.hosts.forEach((host, index) => {
    const key = serviceKey(entry.namespace, host);
    const owner = takenKeys.get(key);
    if (owner !== undefined) {
      collector.error(
        entry.ref,
        field('spec', 'hosts', index),
        `${host} is already defined by ${owner}; left out`,
      );
      return;
    }
    takenKeys.set(key, entry.ref.object);
    const service = createService({
      name: entry.name,
      namespace: entry.namespace,
      hostname: host,
      vips: vips.map((ip) => ({ network: options.network, ip })),
      ports: ports.map((port) => ({ servicePort: port.servicePort, targetPort: port.targetPort })),
      subjectAltNames: spec.subjectAltNames ?? [],
      ...(waypoint === undefined ? {} : { waypoint }),
    });
    infos.push({ service, source: 'ServiceEntry', selector: spec.workloadSelector?.labels, ports });
  });
  return infos;
}

/**
 * Inline `spec.endpoints` → one workload each, `<clusterId>/networking.istio.io/ServiceEntry/<ns>/<name>/<address>`,
 * an endpoint of every host of the entry. Endpoints addressed by hostname have no workload form
 * (ztunnel reaches workloads by IP) and are reported.
 */
export function convertServiceEntryEndpoints(
  entry: Accepted<IServiceEntry>,
  services: readonly ServiceInfo[],
  context: WorkloadContext,
): Workload[] {
  const { options } = context;
  const workloads: Workload[] = [];
  const seen = new Set<string>();
  (entry.value.spec.endpoints ?? []).forEach((endpoint, index) => {
    const at = field('spec', 'endpoints', index);
    const address = endpoint.address ?? '';
    if (isIP(address) === 0) {
      context.problems.error(
        entry.ref,
        field(at, 'address'),
        address === ''
          ? 'required: ztunnel reaches workloads by IP; left out'
          : `${showValue(address)} is not an IP address (hostname endpoints are not supported); left out`,
      );
      return;
    }
    if (seen.has(address)) {
      context.problems.error(
        entry.ref,
        field(at, 'address'),
        `${address} is already an endpoint of this entry; left out`,
      );
      return;
    }
    seen.add(address);
    const endpointLabels = endpoint.labels ?? NO_LABELS;
    const ports = endpoint.ports ?? {};
    const waypoint = context.waypoints.forWorkload({
      ref: entry.ref,
      namespace: entry.namespace,
      labels: endpointLabels,
      labelsField: field(at, 'labels'),
    });
    const locality = parseLocality(endpoint.locality);
    workloads.push(
      createWorkload({
        uid: `${options.clusterId}/networking.istio.io/ServiceEntry/${entry.namespace}/${entry.name}/${address}`,
        name: entry.name,
        namespace: entry.namespace,
        workloadIps: [address],
        network:
          endpoint.network !== undefined && endpoint.network !== '' ? endpoint.network : options.network,
        tunnelProtocol: tunnelProtocolOf({
          labels: endpointLabels,
          namespaceLabels: namespaceLabels(context.inventory, entry.namespace),
        }),
        trustDomain: options.trustDomain,
        serviceAccount: endpoint.serviceAccount ?? '',
        workloadName: entry.name,
        // istiod reports inline endpoints as pods.
        workloadType: 'pod',
        ...canonicalService(entry.labels, entry.name),
        clusterId: options.clusterId,
        status: 'Healthy',
        ...(locality === undefined ? {} : { locality }),
        services: ownServicePorts(services, (name) => (Object.hasOwn(ports, name) ? ports[name] : undefined)),
        // Policies select inline endpoints by the ServiceEntry's own labels, as istiod does.
        authorizationPolicies: context.policies.keysFor(entry.namespace, entry.labels),
        ...(waypoint === undefined ? {} : { waypoint }),
      }),
    );
  });
  return workloads;
}
