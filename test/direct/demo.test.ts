import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The built launcher: the suite runs after `tsc -b`. It uses 127.0.0.10 (the CA), 127.0.0.11-12
// and 127.0.1-3.x, so only one demo may run at a time on a machine.
const LAUNCHER = fileURLToPath(new URL('../../daemonset/dist/local-mesh/main.js', import.meta.url));
/** The demo bounds itself to 60 s; this only catches a launcher that ignores its own bound. */
const TEST_TIMEOUT_MS = 90_000;

function runDemo(): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LAUNCHER, '--demo'], {
      // No colour codes in what we match.
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      resolve({ code, signal, output });
    });
  });
}

describe('npm run demo: the local mesh on loopback', () => {
  it(
    'gets every certificate from the CA, runs every step of the tour through two ztunnel processes and passes every check',
    async () => {
      const { code, signal, output } = await runDemo();
      const checkLines = output.split('\n').filter((line) => /^\s*[✓✗] /.test(line));
      const failed = checkLines.filter((line) => line.trimStart().startsWith('✗'));
      expect(failed, output).toEqual([]);
      expect({ code, signal }, output).toEqual({ code: 0, signal: null });
      // Every certificate came from the CA; each path of the tour was shown and checked (its mTLS
      // steps with those certificates, both ways); both ztunnels drained and the CA stopped on SIGTERM.
      for (const expected of [
        '✓ node-a: an Available certificate for each of its 2 mesh identities, 2 different serials',
        '✓ node-b: an Available certificate for each of its 2 mesh identities, 2 different serials',
        "✓ node-a: the CA's log shows it issued each of them to ztunnel-node-a",
        "✓ node-b: the CA's log shows it issued each of them to ztunnel-node-b",
        '✓ node-a: istio_ztunnel_certificate_requests_total: 2 successful, 0 failed',
        '✓ node-b: istio_ztunnel_certificate_requests_total: 2 successful, 0 failed',
        '✓ node-a outbound: HBONE to 127.0.2.1:15008, CONNECT 127.0.2.1:8080 (echo-v1)',
        '✓ identities: default/sa/productpage → default/sa/reviews in both access logs (mTLS)',
        '✓ load balancing:',
        '✓ node-a outbound: plain TCP to 127.0.2.9:8080 (legacy is not in the mesh)',
        '✓ node-a outbound: passthrough to 127.0.3.1:8080 (no workload has that address)',
        '✓ node-a: ztunnel drained and exited 0 on SIGTERM',
        '✓ node-b: ztunnel drained and exited 0 on SIGTERM',
        '✓ CA: control plane exited 0 on SIGTERM',
      ]) {
        expect(output).toContain(expected);
      }
      expect(output).toMatch(/✓ all \d+ checks passed/);
      // The certificates the tour used, as each ztunnel's /config_dump lists them, under the CA's root.
      expect(output).toMatch(
        /CA 127\.0\.0\.10:15012 {2}root O=cluster\.local, SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/,
      );
      for (const identity of ['sleep', 'productpage', 'echo', 'reviews']) {
        expect(output).toMatch(new RegExp(`default/sa/${identity} +Available +serial [0-9a-f]+ +expires `));
      }
      expect(checkLines.length).toBeGreaterThan(30);
    },
    TEST_TIMEOUT_MS,
  );
});
