import { describe, expect, it } from 'vitest';
import { formatSample, samplesOf, sumOf } from './prometheus-text.js';

const TEXT = `# HELP istio_tcp_connections_opened_total Total TCP connections opened
# TYPE istio_tcp_connections_opened_total counter
istio_tcp_connections_opened_total{reporter="source",destination_workload="echo-v1",connection_security_policy="mutual_tls"} 3
istio_tcp_connections_opened_total{reporter="destination",destination_workload="echo-v1",connection_security_policy="mutual_tls"} 2
istio_tcp_connections_opened_total{reporter="source",destination_workload="legacy",connection_security_policy="unknown"} 1
istio_tcp_connections_opened_total_extra{reporter="source"} 100
istio_tcp_sent_bytes_total{reporter="source",destination_workload="a \\"quoted\\" name"} 42
istio_build 1
`;

describe('samplesOf', () => {
  it('reads only the named metric, with its labels and value', () => {
    const samples = samplesOf(TEXT, 'istio_tcp_connections_opened_total');
    expect(samples.map((s) => s.value)).toEqual([3, 2, 1]);
    expect(samples[2]?.labels.get('destination_workload')).toBe('legacy');
  });

  it('unescapes label values and reads samples without labels', () => {
    expect(samplesOf(TEXT, 'istio_tcp_sent_bytes_total')[0]?.labels.get('destination_workload')).toBe(
      'a "quoted" name',
    );
    expect(samplesOf(TEXT, 'istio_build')).toEqual([{ name: 'istio_build', labels: new Map(), value: 1 }]);
  });
});

describe('sumOf', () => {
  it.each([
    [{}, 6],
    [{ reporter: 'source' }, 4],
    [{ reporter: 'source', connection_security_policy: 'mutual_tls' }, 3],
    [{ reporter: 'nobody' }, 0],
  ])('sums the samples whose labels include %j', (labels, expected) => {
    expect(sumOf(TEXT, 'istio_tcp_connections_opened_total', labels)).toBe(expected);
  });
});

describe('formatSample', () => {
  it('keeps only the chosen labels, in the chosen order', () => {
    const [sample] = samplesOf(TEXT, 'istio_tcp_connections_opened_total');
    if (!sample) throw new Error('no sample');
    expect(formatSample(sample, ['connection_security_policy', 'reporter', 'absent'])).toBe(
      'istio_tcp_connections_opened_total{connection_security_policy="mutual_tls",reporter="source"} 3',
    );
  });
});
