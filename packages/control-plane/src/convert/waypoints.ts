import { isIP } from 'node:net';
import type { IGateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import type { GatewayAddress } from '@ambient/state';
import { clusterIpsOf } from './cluster-ips.js';
import { field } from './field-path.js';
import type { Accepted, MeshInventory } from './inventory.js';
import {
  GATEWAY_MANAGED_LABEL,
  GATEWAY_NAME_LABEL,
  labelSelectorMatches,
  NO_LABELS,
  USE_WAYPOINT_LABEL,
  USE_WAYPOINT_NAMESPACE_LABEL,
  WAYPOINT_FOR_LABEL,
  type Labels,
} from './labels.js';
import { kubeServiceHostname, type ResolvedConvertOptions } from './options.js';
import { showValue, type ObjectRef, type ProblemCollector } from './problems.js';

/*
 * Waypoints: Gateways of class istio-waypoint, bound by `istio.io/use-waypoint` on an object or, for
 * objects without the label, on their namespace (istiod's ambient waypoints). A waypoint serves
 * service traffic unless its `istio.io/waypoint-for` says otherwise, as in Istio.
 */

export const WAYPOINT_GATEWAY_CLASS = 'istio-waypoint';
/** Istio hard-codes the waypoint's HBONE port too. */
export const WAYPOINT_HBONE_PORT = 15008;
/** A use-waypoint value that opts the object out of its namespace's waypoint. */
const OPT_OUT = 'none';
/** What istio's waypoint Deployment controller labels the waypoint's own Service with. */
const MESH_CONTROLLER = 'istio.io-mesh-controller';
const HBONE_PROTOCOL = 'HBONE';

type WaypointFor = 'service' | 'workload' | 'all' | 'none';
const WAYPOINT_FOR_VALUES: readonly WaypointFor[] = ['service', 'workload', 'all', 'none'];
/** The traffic a lookup is for: to a service's VIP, or to a workload's own address. */
export type TrafficKind = 'service' | 'workload';

type Listener = IGateway['spec']['listeners'][number];

interface Waypoint {
  readonly namespace: string;
  readonly name: string;
  readonly trafficType: WaypointFor;
  readonly address: GatewayAddress;
  /** allowedRoutes of the HBONE listener: which namespaces may use this waypoint. */
  readonly allows: (namespace: string, namespaceLabels: Labels) => boolean;
}

/** The object a waypoint is looked up for. */
export interface WaypointTarget {
  readonly ref: ObjectRef;
  readonly namespace: string;
  readonly labels: Labels;
  /** Where `labels` are written, for problems (`spec.endpoints[0].labels`). */
  readonly labelsField?: string;
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** allowedRoutes of the HBONE listener (none: the Gateway API default, the same namespace only). */
function attachmentRule(gatewayNamespace: string, listeners: readonly Listener[]): Waypoint['allows'] {
  const hbone = listeners.find((l) => l.protocol === HBONE_PROTOCOL && l.port === WAYPOINT_HBONE_PORT);
  const namespaces = hbone?.allowedRoutes?.namespaces;
  return (namespace, namespaceLabels) => {
    switch (namespaces?.from ?? 'Same') {
      case 'All':
        return true;
      case 'Selector':
        return (
          namespaces?.selector !== undefined && labelSelectorMatches(namespaces.selector, namespaceLabels)
        );
      default:
        return namespace === gatewayNamespace;
    }
  };
}

export class WaypointResolver {
  private readonly waypoints = new Map<string, Waypoint>();
  private readonly gateways = new Map<string, Accepted<IGateway>>();

  constructor(
    private readonly inventory: MeshInventory,
    private readonly options: ResolvedConvertOptions,
    private readonly collector: ProblemCollector,
  ) {
    for (const gateway of inventory.gateways) {
      this.gateways.set(keyOf(gateway.namespace, gateway.name), gateway);
      if (gateway.value.spec.gatewayClassName !== WAYPOINT_GATEWAY_CLASS) continue;
      this.waypoints.set(keyOf(gateway.namespace, gateway.name), {
        namespace: gateway.namespace,
        name: gateway.name,
        trafficType: this.trafficTypeOf(gateway),
        address: this.addressOf(gateway.namespace, gateway.name),
        allows: attachmentRule(gateway.namespace, gateway.value.spec.listeners),
      });
    }
  }

  /** The waypoint traffic to a service's VIPs goes through. */
  forService(target: WaypointTarget, serviceName: string): GatewayAddress | undefined {
    // A waypoint's own Service never goes through a waypoint: that would loop.
    if (target.labels[GATEWAY_MANAGED_LABEL] === MESH_CONTROLLER) return undefined;
    if (this.waypoints.has(keyOf(target.namespace, serviceName))) return undefined;
    return this.resolve(target, 'service');
  }

  /** The waypoint traffic addressed to a workload itself goes through. */
  forWorkload(target: WaypointTarget): GatewayAddress | undefined {
    // A waypoint's own pods are its instances, not its clients.
    const instanceOf = target.labels[GATEWAY_NAME_LABEL];
    if (instanceOf !== undefined && this.waypoints.has(keyOf(target.namespace, instanceOf))) return undefined;
    return this.resolve(target, 'workload');
  }

  private resolve(target: WaypointTarget, traffic: TrafficKind): GatewayAddress | undefined {
    const own = target.labels[USE_WAYPOINT_LABEL];
    if (own !== undefined) {
      if (own === OPT_OUT) return undefined;
      const gatewayNamespace = target.labels[USE_WAYPOINT_NAMESPACE_LABEL] ?? target.namespace;
      const at = field(target.labelsField ?? 'metadata.labels', USE_WAYPOINT_LABEL);
      return this.bind(target.ref, at, true, gatewayNamespace, own, target.namespace, traffic);
    }
    const namespace = this.inventory.namespaces.get(target.namespace);
    const inherited = namespace?.labels[USE_WAYPOINT_LABEL];
    if (namespace === undefined || inherited === undefined || inherited === OPT_OUT) return undefined;
    const gatewayNamespace = namespace.labels[USE_WAYPOINT_NAMESPACE_LABEL] ?? target.namespace;
    const at = field('metadata', 'labels', USE_WAYPOINT_LABEL);
    return this.bind(namespace.ref, at, false, gatewayNamespace, inherited, target.namespace, traffic);
  }

  /**
   * The waypoint `gatewayNamespace/gatewayName` for traffic from objects of `fromNamespace`. A name
   * that is no waypoint is reported on the labelled object and still bound by its hostname, so that
   * traffic fails closed instead of silently bypassing the waypoint.
   */
  private bind(
    labelled: ObjectRef,
    at: string,
    explicit: boolean,
    gatewayNamespace: string,
    gatewayName: string,
    fromNamespace: string,
    traffic: TrafficKind,
  ): GatewayAddress | undefined {
    const waypoint = this.waypoints.get(keyOf(gatewayNamespace, gatewayName));
    if (waypoint === undefined) {
      const gateway = this.gateways.get(keyOf(gatewayNamespace, gatewayName));
      const what =
        gateway === undefined
          ? `there is no Gateway ${gatewayNamespace}/${gatewayName}`
          : `Gateway ${gatewayNamespace}/${gatewayName} is not a waypoint (gatewayClassName ${showValue(gateway.value.spec.gatewayClassName)}, not "${WAYPOINT_GATEWAY_CLASS}")`;
      const hostname = this.hostnameAddress(gatewayNamespace, gatewayName);
      this.collector.error(
        labelled,
        at,
        `${what}; traffic is sent to ${hostname.hostname} and fails until that waypoint exists`,
      );
      // Without the Gateway its traffic type is unknown: a label on the object itself binds either
      // kind; one inherited from the namespace binds service traffic, a waypoint's default.
      return explicit || traffic === 'service' ? hostname : undefined;
    }
    const namespaceLabels = this.inventory.namespaces.get(fromNamespace)?.labels ?? NO_LABELS;
    if (!waypoint.allows(fromNamespace, namespaceLabels)) {
      this.collector.error(
        labelled,
        at,
        `waypoint ${gatewayNamespace}/${gatewayName} does not accept namespace ${fromNamespace} (allowedRoutes of its HBONE listener); no waypoint is used`,
      );
      return undefined;
    }
    if (waypoint.trafficType === 'all' || waypoint.trafficType === traffic) return waypoint.address;
    if (explicit) {
      this.collector.error(
        labelled,
        at,
        `waypoint ${gatewayNamespace}/${gatewayName} does not serve ${traffic} traffic (${WAYPOINT_FOR_LABEL}: ${waypoint.trafficType}); no waypoint is used`,
      );
    }
    return undefined;
  }

  private trafficTypeOf(gateway: Accepted<IGateway>): WaypointFor {
    const value = gateway.labels[WAYPOINT_FOR_LABEL];
    if (value === undefined) return 'service';
    if ((WAYPOINT_FOR_VALUES as readonly string[]).includes(value)) return value as WaypointFor;
    this.collector.warn(
      gateway.ref,
      field('metadata', 'labels', WAYPOINT_FOR_LABEL),
      `${showValue(value)} is not one of ${WAYPOINT_FOR_VALUES.join(', ')}; the waypoint serves service traffic`,
    );
    return 'service';
  }

  /** The waypoint's Service VIP when it has one (an IP needs no lookup), else its hostname. */
  private addressOf(namespace: string, name: string): GatewayAddress {
    const service = this.inventory.services.find((s) => s.namespace === namespace && s.name === name);
    const vip = service === undefined ? undefined : clusterIpsOf(service.value).find((ip) => isIP(ip) !== 0);
    if (vip === undefined) return this.hostnameAddress(namespace, name);
    return { kind: 'address', network: this.options.network, ip: vip, hboneMtlsPort: WAYPOINT_HBONE_PORT };
  }

  private hostnameAddress(namespace: string, name: string): GatewayAddress & { kind: 'hostname' } {
    return {
      kind: 'hostname',
      namespace,
      hostname: kubeServiceHostname(name, namespace, this.options.domainSuffix),
      hboneMtlsPort: WAYPOINT_HBONE_PORT,
    };
  }
}
