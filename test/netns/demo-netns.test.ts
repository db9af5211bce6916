import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `npm run demo:netns` as a user runs it: the built launcher (the suite runs after `tsc -b`), as
// root. Its cluster's namespaces carry their own prefix and random id, so it may run beside the
// other netns tests.
const LAUNCHER = fileURLToPath(new URL('../../daemonset/dist/netns-demo/main.js', import.meta.url));
const NEEDS_ROOT = 'npm run demo:netns needs root (network namespaces, iptables); CI runs this test as root';
/** The demo bounds itself to 120 s; this only catches a launcher that ignores its own bound. */
const TEST_TIMEOUT_MS = 150_000;

function runDemo(): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LAUNCHER], {
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

function demoNamespaces(): string[] {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  return listed
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith('ambient-demo-'));
}

describe('npm run demo:netns: the mesh on network namespaces with real capture', () => {
  it(
    'captures unmodified programs in the pods, runs the whole tour through in-pod ztunnels, passes every check and cleans up',
    async () => {
      expect(process.getuid?.(), NEEDS_ROOT).toBe(0);
      const { code, signal, output } = await runDemo();
      const checkLines = output.split('\n').filter((line) => /^\s*[✓✗] /.test(line));
      const failed = checkLines.filter((line) => line.trimStart().startsWith('✗'));
      expect(failed, output).toEqual([]);
      expect({ code, signal }, output).toEqual({ code: 0, signal: null });
      for (const expected of [
        // The node agents' rules, inside the pods.
        '✓ sleep: outbound TCP → 15001, inbound → 15006',
        '✓ reviews: outbound TCP → 15001, inbound → 15006',
        '✓ legacy: no rules: not in the mesh',
        // curl inside the pods, captured, over HBONE with mTLS, the caller's pod IP kept.
        '✓ node-a outbound: captured (15001), HBONE to 10.99.2.2:15008, CONNECT 10.99.2.2:8080 (echo-v1)',
        "✓ original source: echo-v1 saw the caller's own pod IP 10.99.1.2",
        '✓ identities: default/sa/sleep → default/sa/echo in both access logs (mTLS)',
        '✓ metrics: node-a (source) and node-b (destination) counted 1 connection, mutual_tls',
        // The VIP works only through capture, and reaches both endpoints.
        '✓ load balancing:',
        // The policy at work, the paths out of the mesh, and an outside caller captured on arrival.
        '✓ refused: curl got no answer',
        '✓ node-b inbound: sleep → reviews denied by policy',
        '✓ metrics: node-b (destination) counted 1 connection closed with response_flags="DENY"',
        '✓ node-a outbound: captured (15001), plain TCP to 10.99.2.4:8080 (legacy is not in the mesh), no mTLS',
        "✓ node-b inbound: captured in echo-v1's namespace (15006), plaintext from legacy, no mTLS",
        '✓ node-a outbound: captured (15001), passthrough to 10.99.0.253:8080',
        // Everything stops cleanly and the namespaces go.
        '✓ ztunnel node-a: drained and exited 0 on SIGTERM',
        '✓ ztunnel node-b: drained and exited 0 on SIGTERM',
        '✓ node agent node-a: exited 0 on SIGTERM',
        '✓ control plane: exited 0 on SIGTERM',
        ': every namespace removed',
      ]) {
        expect(output).toContain(expected);
      }
      expect(output).toMatch(/✓ all \d+ checks passed/);
      expect(checkLines.length).toBeGreaterThan(45);
      expect(demoNamespaces()).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
