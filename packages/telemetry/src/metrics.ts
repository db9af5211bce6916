import { Counter, Gauge, Registry } from 'prom-client';
import { TRAFFIC_LABEL_NAMES, type Reporter, type TrafficLabelName } from './labels.js';

// prom-client exposes a counter under exactly the name it is given, so the `_total` is part of the name.
export const METRIC_TCP_CONNECTIONS_OPENED = 'istio_tcp_connections_opened_total';
export const METRIC_TCP_CONNECTIONS_CLOSED = 'istio_tcp_connections_closed_total';
export const METRIC_TCP_RECEIVED_BYTES = 'istio_tcp_received_bytes_total';
export const METRIC_TCP_SENT_BYTES = 'istio_tcp_sent_bytes_total';
export const METRIC_TCP_CONNECTIONS_FAILED = 'istio_tcp_connections_failed_total';
export const METRIC_TCP_SOCKETS_OPEN = 'istio_tcp_sockets_open';
export const METRIC_BUILD = 'istio_build';

/** `component` label of istio_build: dashboards select the node proxy by this name. */
const BUILD_COMPONENT = 'ztunnel';

export interface MetricsOptions {
  /** `tag` label of istio_build: the Istio version this build claims to match. */
  readonly buildTag?: string;
}

type SocketsOpenChild = Gauge.Internal<'reporter'>;

/**
 * The L4 metric families of Istio's ztunnel, registered on one registry. Each proxy gets its own
 * registry by default so that several proxies in one process (tests) never share counts.
 */
export class Metrics {
  readonly registry: Registry;
  readonly connectionsOpened: Counter<TrafficLabelName>;
  readonly connectionsClosed: Counter<TrafficLabelName>;
  /** Client→server bytes, for both reporters (Istio's convention). */
  readonly receivedBytes: Counter<TrafficLabelName>;
  /** Server→client bytes, for both reporters (Istio's convention). */
  readonly sentBytes: Counter<TrafficLabelName>;
  readonly connectionsFailed: Counter<TrafficLabelName>;
  readonly socketsOpen: Gauge<'reporter'>;
  readonly build: Gauge<'component' | 'tag'>;
  private readonly socketsOpenBySource: SocketsOpenChild;
  private readonly socketsOpenByDestination: SocketsOpenChild;

  constructor(registry: Registry = new Registry(), options: MetricsOptions = {}) {
    this.registry = registry;
    const registers = [registry];
    const labelNames = TRAFFIC_LABEL_NAMES;
    this.connectionsOpened = new Counter({
      name: METRIC_TCP_CONNECTIONS_OPENED,
      help: 'The total number of TCP connections opened',
      labelNames,
      registers,
    });
    this.connectionsClosed = new Counter({
      name: METRIC_TCP_CONNECTIONS_CLOSED,
      help: 'The total number of TCP connections closed',
      labelNames,
      registers,
    });
    this.receivedBytes = new Counter({
      name: METRIC_TCP_RECEIVED_BYTES,
      help: 'The size of total bytes received during request in case of a TCP connection',
      labelNames,
      registers,
    });
    this.sentBytes = new Counter({
      name: METRIC_TCP_SENT_BYTES,
      help: 'The size of total bytes sent during response in case of a TCP connection',
      labelNames,
      registers,
    });
    this.connectionsFailed = new Counter({
      name: METRIC_TCP_CONNECTIONS_FAILED,
      help: 'The total number of TCP connections that failed to establish (unstable)',
      labelNames,
      registers,
    });
    this.socketsOpen = new Gauge({
      name: METRIC_TCP_SOCKETS_OPEN,
      help: 'The current number of open TCP sockets (unstable)',
      labelNames: ['reporter'] as const,
      registers,
    });
    this.build = new Gauge({
      name: METRIC_BUILD,
      help: 'Istio component build info',
      labelNames: ['component', 'tag'] as const,
      registers,
    });
    this.build.set({ component: BUILD_COMPONENT, tag: options.buildTag ?? 'unknown' }, 1);
    this.socketsOpenBySource = this.socketsOpen.labels({ reporter: 'source' });
    this.socketsOpenByDestination = this.socketsOpen.labels({ reporter: 'destination' });
  }

  /** The istio_tcp_sockets_open child for a reporter, resolved once per Metrics. */
  socketsOpenFor(reporter: Reporter): SocketsOpenChild {
    return reporter === 'source' ? this.socketsOpenBySource : this.socketsOpenByDestination;
  }
}
