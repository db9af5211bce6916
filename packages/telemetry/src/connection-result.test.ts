import { Writable } from 'node:stream';
import { createLogger, ErrorCode, MeshError, type Logger } from '@ambient/core';
import type { LevelWithSilent } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConnectionResult } from './connection-result.js';
import type { ConnectionDescription, WorkloadInfo } from './labels.js';
import { Metrics } from './metrics.js';

/** A logger whose JSON lines land in an array, parsed. */
function capturingLogger(level: LevelWithSilent = 'info'): {
  logger: Logger;
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text !== '') lines.push(JSON.parse(text) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: createLogger({ level, destination }), lines };
}

const sleep: WorkloadInfo = {
  name: 'sleep-5f8c7d9b-xk2lp',
  namespace: 'default',
  workloadName: 'sleep',
  canonicalName: 'sleep',
  canonicalRevision: 'latest',
  clusterId: 'Kubernetes',
  trustDomain: 'cluster.local',
  serviceAccount: 'sleep',
};

const httpbin: WorkloadInfo = {
  name: 'httpbin-6c8f9d7b-4mzq8',
  namespace: 'apps',
  workloadName: 'httpbin',
  canonicalName: 'httpbin',
  canonicalRevision: 'v1',
  clusterId: 'Kubernetes',
  trustDomain: 'cluster.local',
  serviceAccount: 'httpbin',
  locality: { region: 'r1', zone: 'z1' },
};

const SLEEP_SPIFFE = 'spiffe://cluster.local/ns/default/sa/sleep';
const HTTPBIN_SPIFFE = 'spiffe://cluster.local/ns/apps/sa/httpbin';

/** Outbound HBONE from sleep to the httpbin service, as the source ztunnel sees it. */
const outbound: ConnectionDescription = {
  reporter: 'source',
  source: sleep,
  sourcePrincipal: SLEEP_SPIFFE,
  destination: httpbin,
  destinationService: { hostname: 'httpbin.apps.svc.cluster.local', name: 'httpbin', namespace: 'apps' },
  securityPolicy: 'mutual_tls',
  direction: 'outbound',
  sourceAddress: '127.0.0.10:41000',
  destinationAddress: '127.0.0.20:15008',
  hboneTarget: '127.0.0.20:8080',
};

/** Plain TCP arriving at the destination ztunnel from somewhere it knows nothing about. */
const inboundUnknown: ConnectionDescription = {
  reporter: 'destination',
  securityPolicy: 'unknown',
  direction: 'inbound',
  sourceAddress: '127.0.0.30:52000',
  destinationAddress: '127.0.0.20:15006',
};

const OUTBOUND_LABELS =
  'reporter="source",source_workload="sleep",source_canonical_service="sleep",' +
  'source_canonical_revision="latest",source_workload_namespace="default",' +
  `source_principal="${SLEEP_SPIFFE}",source_app="sleep",source_version="latest",source_cluster="Kubernetes",` +
  'destination_service="httpbin.apps.svc.cluster.local",destination_service_namespace="apps",' +
  'destination_service_name="httpbin",destination_workload="httpbin",destination_canonical_service="httpbin",' +
  'destination_canonical_revision="v1",destination_workload_namespace="apps",' +
  `destination_principal="${HTTPBIN_SPIFFE}",destination_app="httpbin",destination_version="v1",` +
  'destination_cluster="Kubernetes",request_protocol="tcp",response_flags="-",' +
  'connection_security_policy="mutual_tls",source_region="unknown",source_zone="unknown",' +
  'destination_region="r1",destination_zone="z1"';

const UNKNOWN_INBOUND_LABELS = (flags: string): string =>
  'reporter="destination",source_workload="unknown",source_canonical_service="unknown",' +
  'source_canonical_revision="unknown",source_workload_namespace="unknown",source_principal="unknown",' +
  'source_app="unknown",source_version="unknown",source_cluster="unknown",destination_service="unknown",' +
  'destination_service_namespace="unknown",destination_service_name="unknown",destination_workload="unknown",' +
  'destination_canonical_service="unknown",destination_canonical_revision="unknown",' +
  'destination_workload_namespace="unknown",destination_principal="unknown",destination_app="unknown",' +
  'destination_version="unknown",destination_cluster="unknown",request_protocol="tcp",' +
  `response_flags="${flags}",connection_security_policy="unknown",source_region="unknown",` +
  'source_zone="unknown",destination_region="unknown",destination_zone="unknown"';

function metricLines(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

describe('ConnectionResult metrics', () => {
  it('counts an outbound connection with the full Istio label set and the byte convention', async () => {
    const metrics = new Metrics();
    const { logger } = capturingLogger();
    new ConnectionResult(metrics, logger, outbound).close({
      clientToServerBytes: 10,
      serverToClientBytes: 20,
    });

    const text = await metrics.registry.metrics();
    expect(metricLines(text, 'istio_tcp_connections_opened_total')).toEqual([
      `istio_tcp_connections_opened_total{${OUTBOUND_LABELS}} 1`,
    ]);
    expect(metricLines(text, 'istio_tcp_connections_closed_total')).toEqual([
      `istio_tcp_connections_closed_total{${OUTBOUND_LABELS}} 1`,
    ]);
    // received = client→server, sent = server→client, whoever reports.
    expect(metricLines(text, 'istio_tcp_received_bytes_total')).toEqual([
      `istio_tcp_received_bytes_total{${OUTBOUND_LABELS}} 10`,
    ]);
    expect(metricLines(text, 'istio_tcp_sent_bytes_total')).toEqual([
      `istio_tcp_sent_bytes_total{${OUTBOUND_LABELS}} 20`,
    ]);
    expect(metricLines(text, 'istio_tcp_connections_failed_total')).toEqual([]);
    expect(metricLines(text, 'istio_tcp_sockets_open')).toEqual([
      'istio_tcp_sockets_open{reporter="source"} 0',
    ]);
  });

  it('keeps the same byte convention for the destination reporter, with unknown defaults', async () => {
    const metrics = new Metrics();
    const { logger } = capturingLogger();
    new ConnectionResult(metrics, logger, inboundUnknown).close({
      clientToServerBytes: 10,
      serverToClientBytes: 20,
    });

    const text = await metrics.registry.metrics();
    expect(metricLines(text, 'istio_tcp_connections_opened_total')).toEqual([
      `istio_tcp_connections_opened_total{${UNKNOWN_INBOUND_LABELS('-')}} 1`,
    ]);
    expect(metricLines(text, 'istio_tcp_received_bytes_total')).toEqual([
      `istio_tcp_received_bytes_total{${UNKNOWN_INBOUND_LABELS('-')}} 10`,
    ]);
    expect(metricLines(text, 'istio_tcp_sent_bytes_total')).toEqual([
      `istio_tcp_sent_bytes_total{${UNKNOWN_INBOUND_LABELS('-')}} 20`,
    ]);
  });

  it('holds the sockets-open gauge up while the connection lives', async () => {
    const metrics = new Metrics();
    const { logger } = capturingLogger();
    const first = new ConnectionResult(metrics, logger, inboundUnknown);
    const second = new ConnectionResult(metrics, logger, inboundUnknown);
    expect(await metrics.registry.metrics()).toContain('istio_tcp_sockets_open{reporter="destination"} 2');
    first.close({ clientToServerBytes: 0, serverToClientBytes: 0 });
    expect(await metrics.registry.metrics()).toContain('istio_tcp_sockets_open{reporter="destination"} 1');
    second.close({ clientToServerBytes: 0, serverToClientBytes: 0 });
    expect(await metrics.registry.metrics()).toContain('istio_tcp_sockets_open{reporter="destination"} 0');
  });

  it('records a connection once however often it is closed', async () => {
    const metrics = new Metrics();
    const { logger, lines } = capturingLogger();
    const result = new ConnectionResult(metrics, logger, outbound);
    expect(result.isClosed).toBe(false);
    result.close({ clientToServerBytes: 10, serverToClientBytes: 20 });
    result.close({ clientToServerBytes: 99, serverToClientBytes: 99, error: new Error('late') });
    expect(result.isClosed).toBe(true);

    const text = await metrics.registry.metrics();
    expect(metricLines(text, 'istio_tcp_connections_closed_total')).toEqual([
      `istio_tcp_connections_closed_total{${OUTBOUND_LABELS}} 1`,
    ]);
    expect(metricLines(text, 'istio_tcp_received_bytes_total')).toEqual([
      `istio_tcp_received_bytes_total{${OUTBOUND_LABELS}} 10`,
    ]);
    expect(metricLines(text, 'istio_tcp_connections_failed_total')).toEqual([]);
    expect(metricLines(text, 'istio_tcp_sockets_open')).toEqual([
      'istio_tcp_sockets_open{reporter="source"} 0',
    ]);
    expect(lines.filter((line) => line.message === 'connection complete')).toHaveLength(1);
  });

  it('flags a failed connection in closed and failed, while opened and bytes keep "-"', async () => {
    const metrics = new Metrics();
    const { logger } = capturingLogger();
    new ConnectionResult(metrics, logger, inboundUnknown).close({
      clientToServerBytes: 3,
      serverToClientBytes: 0,
      error: new MeshError(ErrorCode.TlsFailure, 'handshake failed'),
    });

    const text = await metrics.registry.metrics();
    expect(metricLines(text, 'istio_tcp_connections_opened_total')).toEqual([
      `istio_tcp_connections_opened_total{${UNKNOWN_INBOUND_LABELS('-')}} 1`,
    ]);
    expect(metricLines(text, 'istio_tcp_connections_closed_total')).toEqual([
      `istio_tcp_connections_closed_total{${UNKNOWN_INBOUND_LABELS('TLS_FAILURE')}} 1`,
    ]);
    expect(metricLines(text, 'istio_tcp_connections_failed_total')).toEqual([
      `istio_tcp_connections_failed_total{${UNKNOWN_INBOUND_LABELS('TLS_FAILURE')}} 1`,
    ]);
    expect(metricLines(text, 'istio_tcp_received_bytes_total')).toEqual([
      `istio_tcp_received_bytes_total{${UNKNOWN_INBOUND_LABELS('-')}} 3`,
    ]);
  });

  it('reports CONNECT for an error it cannot classify', async () => {
    const metrics = new Metrics();
    const { logger } = capturingLogger();
    new ConnectionResult(metrics, logger, inboundUnknown).close({
      clientToServerBytes: 0,
      serverToClientBytes: 0,
      error: new Error('socket hang up'),
    });
    expect(metricLines(await metrics.registry.metrics(), 'istio_tcp_connections_failed_total')).toEqual([
      `istio_tcp_connections_failed_total{${UNKNOWN_INBOUND_LABELS('CONNECT')}} 1`,
    ]);
  });

  it('adds connections with the same labels into one series', async () => {
    const metrics = new Metrics();
    const { logger } = capturingLogger();
    for (let i = 0; i < 3; i++) {
      new ConnectionResult(metrics, logger, outbound).close({
        clientToServerBytes: 10,
        serverToClientBytes: 20,
      });
    }
    const text = await metrics.registry.metrics();
    expect(metricLines(text, 'istio_tcp_connections_closed_total')).toEqual([
      `istio_tcp_connections_closed_total{${OUTBOUND_LABELS}} 3`,
    ]);
    expect(metricLines(text, 'istio_tcp_sent_bytes_total')).toEqual([
      `istio_tcp_sent_bytes_total{${OUTBOUND_LABELS}} 60`,
    ]);
  });

  it('ignores byte counts a counter cannot take instead of throwing in a close handler', async () => {
    const metrics = new Metrics();
    const { logger } = capturingLogger();
    new ConnectionResult(metrics, logger, outbound).close({
      clientToServerBytes: -1,
      serverToClientBytes: Number.NaN,
    });
    const text = await metrics.registry.metrics();
    expect(metricLines(text, 'istio_tcp_received_bytes_total')).toEqual([
      `istio_tcp_received_bytes_total{${OUTBOUND_LABELS}} 0`,
    ]);
    expect(metricLines(text, 'istio_tcp_sent_bytes_total')).toEqual([
      `istio_tcp_sent_bytes_total{${OUTBOUND_LABELS}} 0`,
    ]);
  });

  it('keeps the counts of two Metrics instances apart', async () => {
    const a = new Metrics();
    const b = new Metrics();
    const { logger } = capturingLogger();
    new ConnectionResult(a, logger, outbound).close({ clientToServerBytes: 10, serverToClientBytes: 20 });
    new ConnectionResult(a, logger, outbound).close({ clientToServerBytes: 10, serverToClientBytes: 20 });
    new ConnectionResult(b, logger, outbound).close({ clientToServerBytes: 1, serverToClientBytes: 2 });

    expect(metricLines(await a.registry.metrics(), 'istio_tcp_connections_opened_total')).toEqual([
      `istio_tcp_connections_opened_total{${OUTBOUND_LABELS}} 2`,
    ]);
    expect(metricLines(await b.registry.metrics(), 'istio_tcp_connections_opened_total')).toEqual([
      `istio_tcp_connections_opened_total{${OUTBOUND_LABELS}} 1`,
    ]);
    expect(metricLines(await b.registry.metrics(), 'istio_tcp_received_bytes_total')).toEqual([
      `istio_tcp_received_bytes_total{${OUTBOUND_LABELS}} 1`,
    ]);
  });
});

describe('ConnectionResult access log', () => {
  it('writes one info line for an outbound connection, bytes from the sender side', () => {
    const { logger, lines } = capturingLogger();
    new ConnectionResult(new Metrics(), logger, outbound).close({
      clientToServerBytes: 10,
      serverToClientBytes: 20,
    });

    expect(lines).toHaveLength(1);
    const line = lines[0];
    expect(line).toMatchObject({
      level: 'info',
      scope: 'access',
      message: 'connection complete',
      'src.addr': '127.0.0.10:41000',
      'src.workload': 'sleep-5f8c7d9b-xk2lp',
      'src.namespace': 'default',
      'src.identity': SLEEP_SPIFFE,
      'src.cluster': 'Kubernetes',
      'dst.addr': '127.0.0.20:15008',
      'dst.hbone_addr': '127.0.0.20:8080',
      'dst.service': 'httpbin.apps.svc.cluster.local',
      'dst.workload': 'httpbin-6c8f9d7b-4mzq8',
      'dst.namespace': 'apps',
      'dst.identity': HTTPBIN_SPIFFE,
      'dst.cluster': 'Kubernetes',
      direction: 'outbound',
      bytes_sent: 10,
      bytes_recv: 20,
    });
    expect(line?.duration).toMatch(/^\d+ms$/);
    expect(line).not.toHaveProperty('error');
  });

  it('turns the bytes round for an inbound connection', () => {
    const { logger, lines } = capturingLogger();
    new ConnectionResult(new Metrics(), logger, inboundUnknown).close({
      clientToServerBytes: 10,
      serverToClientBytes: 20,
    });
    expect(lines[0]).toMatchObject({ direction: 'inbound', bytes_sent: 20, bytes_recv: 10 });
  });

  it('leaves out what it does not know, and identities without mTLS', () => {
    const { logger, lines } = capturingLogger();
    new ConnectionResult(new Metrics(), logger, {
      ...outbound,
      securityPolicy: 'unknown',
      hboneTarget: undefined,
      destinationService: undefined,
    }).close({ clientToServerBytes: 0, serverToClientBytes: 0 });
    const line = lines[0] ?? {};
    for (const key of ['src.identity', 'dst.identity', 'dst.hbone_addr', 'dst.service']) {
      expect(line, key).not.toHaveProperty(key);
    }
    expect(line['src.workload']).toBe('sleep-5f8c7d9b-xk2lp');

    const { logger: logger2, lines: lines2 } = capturingLogger();
    new ConnectionResult(new Metrics(), logger2, inboundUnknown).close({
      clientToServerBytes: 0,
      serverToClientBytes: 0,
    });
    expect(Object.keys(lines2[0] ?? {}).sort()).toEqual(
      [
        'level',
        'time',
        'message',
        'scope',
        'src.addr',
        'dst.addr',
        'direction',
        'bytes_sent',
        'bytes_recv',
        'duration',
      ].sort(),
    );
  });

  it('carries the trace id when one came with the connection', () => {
    const { logger, lines } = capturingLogger();
    new ConnectionResult(new Metrics(), logger, {
      ...inboundUnknown,
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    }).close({ clientToServerBytes: 0, serverToClientBytes: 0 });
    expect(lines[0]?.trace_id).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('names a workload by canonical service when the pod name is empty', () => {
    const { logger, lines } = capturingLogger();
    new ConnectionResult(new Metrics(), logger, { ...outbound, source: { ...sleep, name: '' } }).close({
      clientToServerBytes: 0,
      serverToClientBytes: 0,
    });
    expect(lines[0]?.['src.workload']).toBe('sleep');
  });

  it('logs a failure at error level with the error message', () => {
    const { logger, lines } = capturingLogger();
    new ConnectionResult(new Metrics(), logger, outbound).close({
      clientToServerBytes: 0,
      serverToClientBytes: 0,
      error: new MeshError(ErrorCode.ConnectFailed, 'connection refused by 127.0.0.20:8080'),
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'error',
      scope: 'access',
      message: 'connection complete',
      error: 'connection refused by 127.0.0.20:8080',
    });
  });

  it('logs the opening at debug, with the same identity fields', () => {
    const { logger, lines } = capturingLogger('debug');
    const result = new ConnectionResult(new Metrics(), logger, outbound);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'debug',
      scope: 'access',
      message: 'connection opened',
      'src.addr': '127.0.0.10:41000',
      'src.identity': SLEEP_SPIFFE,
      'dst.addr': '127.0.0.20:15008',
      'dst.identity': HTTPBIN_SPIFFE,
      direction: 'outbound',
    });
    expect(lines[0]).not.toHaveProperty('bytes_sent');
    result.close({ clientToServerBytes: 1, serverToClientBytes: 1 });
    expect(lines.map((line) => line.message)).toEqual(['connection opened', 'connection complete']);
  });

  it('still counts when access lines are switched off', async () => {
    const metrics = new Metrics();
    const { logger, lines } = capturingLogger('silent');
    new ConnectionResult(metrics, logger, outbound).close({
      clientToServerBytes: 1,
      serverToClientBytes: 1,
      error: new Error('x'),
    });
    expect(lines).toEqual([]);
    expect(metricLines(await metrics.registry.metrics(), 'istio_tcp_connections_failed_total')).toHaveLength(
      1,
    );
  });
});
