import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Metrics } from './metrics.js';

describe('Metrics', () => {
  it('registers on a new registry of its own by default, never the global one', async () => {
    const a = new Metrics();
    const b = new Metrics();
    expect(a.registry).not.toBe(b.registry);
    a.socketsOpenFor('source').inc();
    expect(await a.registry.metrics()).toContain('istio_tcp_sockets_open{reporter="source"} 1');
    expect(await b.registry.metrics()).not.toContain('istio_tcp_sockets_open{reporter="source"}');
  });

  it('uses a registry it is given', () => {
    const registry = new Registry();
    expect(new Metrics(registry).registry).toBe(registry);
    expect(registry.getSingleMetric('istio_tcp_connections_opened_total')).toBeDefined();
  });

  it('declares every family under its Istio name and type', async () => {
    const text = await new Metrics().registry.metrics();
    for (const [name, type] of [
      ['istio_tcp_connections_opened_total', 'counter'],
      ['istio_tcp_connections_closed_total', 'counter'],
      ['istio_tcp_received_bytes_total', 'counter'],
      ['istio_tcp_sent_bytes_total', 'counter'],
      ['istio_tcp_connections_failed_total', 'counter'],
      ['istio_tcp_sockets_open', 'gauge'],
      ['istio_build', 'gauge'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
    }
  });

  it('marks the unstable families as unstable in their HELP', async () => {
    const text = await new Metrics().registry.metrics();
    expect(text).toMatch(/# HELP istio_tcp_connections_failed_total .*unstable/);
    expect(text).toMatch(/# HELP istio_tcp_sockets_open .*unstable/);
    expect(text).not.toMatch(/# HELP istio_tcp_connections_opened_total .*unstable/);
  });

  it('reports the build as ztunnel with the given tag', async () => {
    expect(await new Metrics(new Registry(), { buildTag: '1.28.0' }).registry.metrics()).toContain(
      'istio_build{component="ztunnel",tag="1.28.0"} 1',
    );
    expect(await new Metrics().registry.metrics()).toContain(
      'istio_build{component="ztunnel",tag="unknown"} 1',
    );
  });

  it('keeps one sockets-open child per reporter', () => {
    const metrics = new Metrics();
    expect(metrics.socketsOpenFor('source')).toBe(metrics.socketsOpenFor('source'));
    expect(metrics.socketsOpenFor('source')).not.toBe(metrics.socketsOpenFor('destination'));
  });
});
