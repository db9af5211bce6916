import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatBaggage,
  formatForwarded,
  newTraceparent,
  parseBaggage,
  parseForwarded,
  parseTraceparent,
} from './headers.js';

describe('baggage', () => {
  it('formats ztunnel’s keys and leaves out empty ones', () => {
    expect(
      formatBaggage({
        clusterName: 'Kubernetes',
        namespace: 'default',
        workloadType: 'deployment',
        workloadName: 'sleep',
        serviceName: 'sleep',
        serviceVersion: 'v1',
        region: '',
      }),
    ).toBe(
      'k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.deployment.name=sleep,service.name=sleep,service.version=v1',
    );
  });

  it('round-trips', () => {
    const fields = {
      clusterName: 'c',
      namespace: 'ns',
      workloadType: 'job',
      workloadName: 'w',
      serviceName: 's',
      serviceVersion: 'v',
      region: 'r',
      zone: 'z',
    };
    expect(parseBaggage(formatBaggage(fields))).toEqual(fields);
  });

  it('ignores malformed and unknown items, and W3C properties', () => {
    expect(parseBaggage('garbage,=x,k8s.namespace.name=ns;prop=1,other=1,k8s.pod.name=')).toEqual({
      namespace: 'ns',
    });
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        parseBaggage(text);
      }),
    );
  });
});

describe('forwarded', () => {
  it('formats for= with IPv6 brackets and an optional host', () => {
    expect(formatForwarded('10.0.0.1', 5000)).toBe('for="10.0.0.1:5000"');
    expect(formatForwarded('::1', 80, 'echo.default.svc.cluster.local')).toBe(
      'for="[::1]:80";host=echo.default.svc.cluster.local',
    );
  });

  it('parses the first element only', () => {
    expect(parseForwarded('for="10.0.0.1:5000";host=a.b, for=1.2.3.4;host=c')).toEqual({
      for: '10.0.0.1:5000',
      host: 'a.b',
    });
    expect(parseForwarded('junk')).toEqual({});
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        parseForwarded(text);
      }),
    );
  });
});

describe('traceparent', () => {
  it('makes a fresh valid context per call', () => {
    const a = newTraceparent();
    expect(a).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(parseTraceparent(a)).toBeDefined();
    expect(newTraceparent()).not.toBe(a);
  });

  it.each([
    '',
    '01-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-00',
    '00-' + '0'.repeat(32) + '-' + 'b'.repeat(16) + '-00',
    '00-xyz',
  ])('rejects %j', (text) => {
    expect(parseTraceparent(text)).toBeUndefined();
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (text) => {
        parseTraceparent(text);
      }),
    );
  });
});
