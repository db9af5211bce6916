import { describe, expect, it } from 'vitest';
import {
  evaluateTargets,
  renderTable,
  renderTargets,
  RowSet,
  summarizeRow,
  type MetricSpec,
} from './report.js';

const throughput: MetricSpec = { label: 'bulk', unit: 'Gbit/s', better: 'higher', digits: 2 };
const latency: MetricSpec = { label: 'p50', unit: 'µs', better: 'lower', digits: 0 };

function rowOf(spec: MetricSpec, runs: Record<string, number[]>) {
  const rows = new RowSet('L4');
  const label = rows.define(spec);
  for (const [path, values] of Object.entries(runs)) {
    for (const value of values) rows.add(label, path as 'ztunnel', value);
  }
  const [row] = rows.all();
  if (row === undefined) throw new Error('no row');
  return row;
}

describe('summarizeRow', () => {
  it('takes medians and picks the peer with the higher value when higher is better', () => {
    const row = rowOf(throughput, { ztunnel: [2, 3, 10], direct: [12], stunnel: [1], haproxy: [4, 6] });
    const summary = summarizeRow(row);
    expect(summary.medians).toEqual({ ztunnel: 3, direct: 12, stunnel: 1, haproxy: 5 });
    expect(summary.bestPeer).toBe('haproxy');
    expect(summary.oursOverDirect).toBe(0.25);
    expect(summary.oursOverBestPeer).toBe(0.6);
  });

  it('picks the peer with the lower value when lower is better', () => {
    const summary = summarizeRow(rowOf(latency, { ztunnel: [150], stunnel: [100], haproxy: [200] }));
    expect(summary.bestPeer).toBe('stunnel');
    expect(summary.oursOverBestPeer).toBe(1.5);
    expect(summary.oursOverDirect).toBeUndefined();
  });
});

describe('evaluateTargets', () => {
  it('checks ratio targets against the named path and absolute ones against ours', () => {
    const ratio = rowOf(
      { ...throughput, targets: [{ description: '≥ 1.0× HAProxy', against: 'haproxy', atLeast: 1 }] },
      { ztunnel: [3], haproxy: [4] },
    );
    const absolute = rowOf(
      { ...latency, label: 'rss', targets: [{ description: '≤ 60 MiB', atMost: 60 }] },
      { ztunnel: [59] },
    );
    const missing = rowOf(
      { ...throughput, label: 'x', targets: [{ description: 'vs stunnel', against: 'stunnel', atLeast: 1 }] },
      { ztunnel: [1] },
    );
    expect(evaluateTargets([ratio, absolute, missing]).map(({ value, met }) => ({ value, met }))).toEqual([
      { value: 0.75, met: false },
      { value: 59, met: true },
      { value: undefined, met: undefined },
    ]);
  });
});

describe('RowSet', () => {
  it('refuses a value for a metric nobody defined', () => {
    expect(() => {
      new RowSet('L4').add('nope', 'ztunnel', 1);
    }).toThrow(/no metric/);
  });
});

describe('renderTable', () => {
  it('shows only the paths a group measured, and the best-peer ratio only when there are peers', () => {
    const [header] = renderTable([rowOf(throughput, { ztunnel: [1], direct: [2] })]).split('\n');
    expect(header?.split('|').map((cell) => cell.trim())).toEqual([
      '',
      'metric',
      'better',
      'ztunnel',
      'direct',
      'ztunnel ÷ direct',
      '',
    ]);
  });

  it('names the best peer beside its ratio', () => {
    const table = renderTable([rowOf(throughput, { ztunnel: [3], direct: [6], stunnel: [2], haproxy: [4] })]);
    expect(table).toMatch(/\|\s+0\.50×\s+\|\s+0\.75× \(haproxy\)\s+\|$/m);
  });
});

describe('renderTargets', () => {
  it('reports a published reference figure as within or above, not as a goal met or missed', () => {
    const row = rowOf(
      { ...latency, label: 'cpu', targets: [{ description: 'Istio: 0.06', atMost: 0.06, reference: true }] },
      { ztunnel: [0.08] },
    );
    expect(renderTargets(evaluateTargets([row]))).toContain('| above (reference) |');
  });
});
