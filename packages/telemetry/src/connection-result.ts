import { errorMessage, type Logger } from '@ambient/core';
import type { Counter, Gauge } from 'prom-client';
import { ACCESS_LOG_MESSAGE_COMPLETE, ACCESS_LOG_MESSAGE_OPENED, accessLogLine } from './access-log.js';
import {
  trafficLabels,
  withResponseFlags,
  type ConnectionDescription,
  type TrafficLabels,
} from './labels.js';
import type { Metrics } from './metrics.js';
import { RESPONSE_FLAG_NONE, responseFlagFor } from './response-flags.js';

/** How a connection ended, as measured by whoever moved its bytes. */
export interface ConnectionOutcome {
  clientToServerBytes: number;
  serverToClientBytes: number;
  /** Absent (or undefined) when the connection ended cleanly. */
  error?: unknown;
}

/** A byte count fit for a counter: a bad count must never make a close handler throw. */
function byteCount(value: number): number {
  return value > 0 && Number.isFinite(value) ? value : 0;
}

/**
 * Records one connection exactly once (DESIGN §6): construct it when the connection is accepted or
 * dialled (counts it opened), call `close` when it ends, with or without an error. A connection that
 * fails before it opens is still constructed, then closed with that error.
 */
export class ConnectionResult {
  private readonly logger: Logger;
  private readonly description: ConnectionDescription;
  private readonly metrics: Metrics;
  private readonly labels: TrafficLabels;
  // Children resolved once at setup (DESIGN §5.4): close only adds to them.
  private readonly closedChild: Counter.Internal;
  private readonly receivedChild: Counter.Internal;
  private readonly sentChild: Counter.Internal;
  private readonly socketsOpenChild: Gauge.Internal<'reporter'>;
  private readonly startMs: number;
  private closed = false;

  constructor(metrics: Metrics, logger: Logger, description: ConnectionDescription) {
    this.metrics = metrics;
    this.logger = logger;
    this.description = description;
    this.startMs = performance.now();
    this.labels = trafficLabels(description, RESPONSE_FLAG_NONE);
    this.closedChild = metrics.connectionsClosed.labels(this.labels);
    this.receivedChild = metrics.receivedBytes.labels(this.labels);
    this.sentChild = metrics.sentBytes.labels(this.labels);
    this.socketsOpenChild = metrics.socketsOpenFor(description.reporter);

    metrics.connectionsOpened.labels(this.labels).inc();
    this.socketsOpenChild.inc();
    if (logger.isLevelEnabled('debug')) {
      logger.debug(accessLogLine(description), ACCESS_LOG_MESSAGE_OPENED);
    }
  }

  /** True once `close` has recorded the outcome. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Records the outcome: metrics and one access log line. Only the first call counts. */
  close(outcome: ConnectionOutcome): void {
    if (this.closed) return;
    this.closed = true;
    this.socketsOpenChild.dec();

    const clientToServer = byteCount(outcome.clientToServerBytes);
    const serverToClient = byteCount(outcome.serverToClientBytes);
    // Istio's convention for both reporters: received = client→server, sent = server→client.
    this.receivedChild.inc(clientToServer);
    this.sentChild.inc(serverToClient);

    const error = outcome.error;
    const failed = error !== undefined && error !== null;
    if (failed) {
      // Rare path: the only per-connection copy of the label set, to carry the flag.
      const failedLabels = withResponseFlags(this.labels, responseFlagFor(error));
      this.metrics.connectionsClosed.inc(failedLabels);
      this.metrics.connectionsFailed.inc(failedLabels);
    } else {
      this.closedChild.inc();
    }

    const level = failed ? 'error' : 'info';
    if (!this.logger.isLevelEnabled(level)) return;
    // The log speaks from the reporter's side (Istio un-flips the metric convention for outbound).
    const outbound = this.description.reporter === 'source';
    const line = accessLogLine(this.description);
    line.bytes_sent = outbound ? clientToServer : serverToClient;
    line.bytes_recv = outbound ? serverToClient : clientToServer;
    line.duration = `${Math.floor(performance.now() - this.startMs)}ms`;
    if (failed) line.error = errorMessage(error);
    this.logger[level](line, ACCESS_LOG_MESSAGE_COMPLETE);
  }
}
