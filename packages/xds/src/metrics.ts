import { Counter, Gauge, type Registry } from 'prom-client';

/** istiod's names, so its dashboards read our control plane too. */
export class XdsServerMetrics {
  /** Responses sent, by istiod's short type name (`wds`, `wads`, or the type URL). */
  readonly pushes: Counter<'type'>;
  /** Streams connected now. */
  readonly connected: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.pushes = new Counter({
      name: 'pilot_xds_pushes',
      help: 'Pilot build and send errors for lds, rds, cds and eds.',
      labelNames: ['type'],
      registers,
    });
    this.connected = new Gauge({
      name: 'pilot_xds',
      help: 'Number of endpoints connected to this pilot using XDS.',
      registers,
    });
  }
}

/** Why a client's stream ended, as ztunnel labels it. */
export type TerminationReason = 'ConnectionError' | 'Error' | 'Reconnect' | 'Complete';

/** ztunnel's names (`istio_` prefix, `_total` counters). */
export class XdsClientMetrics {
  readonly terminations: Counter<'reason'>;
  /** Responses received, by type URL. */
  readonly messages: Counter<'url'>;
  /** Bytes of resource bodies received, by type URL. */
  readonly messageBytes: Counter<'url'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.terminations = new Counter({
      name: 'istio_xds_connection_terminations_total',
      help: 'The total number of completed connections to xds server (unstable)',
      labelNames: ['reason'],
      registers,
    });
    this.messages = new Counter({
      name: 'istio_xds_message_total',
      help: 'Total number of messages received (unstable)',
      labelNames: ['url'],
      registers,
    });
    this.messageBytes = new Counter({
      name: 'istio_xds_message_bytes_total',
      help: 'Total number of bytes received (unstable)',
      labelNames: ['url'],
      registers,
    });
  }
}
