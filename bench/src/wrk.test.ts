import { describe, expect, it } from 'vitest';
import { parseWrkOutput } from './wrk.js';

const REPORT = `Running 3s test @ http://127.30.2.1:8080/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  512.33us  15.87ms   91.20%
    Req/Sec    31.40k     1.21k   33.01k    80.00%
  Latency Distribution
     50%  789.00us
     75%    1.10ms
     90%    2.94ms
     99%    1.20s
  93794 requests in 3.00s, 114.61MB read
Requests/sec:  31255.12
Transfer/sec:     38.19MB
`;

describe('parseWrkOutput', () => {
  it('reads the rate, the count and the percentiles in µs whatever unit wrk chose', () => {
    expect(parseWrkOutput(REPORT)).toEqual({
      requestsPerSecond: 31255.12,
      requests: 93794,
      p50Us: 789,
      p90Us: 2940,
      p99Us: 1_200_000,
      errors: 0,
    });
  });

  it('adds socket errors and non-2xx responses into one error count', () => {
    const withErrors = REPORT.replace(
      'Requests/sec',
      '  Socket errors: connect 1, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 4\nRequests/sec',
    );
    expect(parseWrkOutput(withErrors).errors).toBe(10);
  });

  it('refuses a report without the latency distribution (run without --latency)', () => {
    expect(() => parseWrkOutput(REPORT.replace(/^\s+99%.*$/m, ''))).toThrow(/99% line/);
  });
});
