import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cp, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// The built launcher: the suite runs after `tsc -b`. It uses 127.0.0.10 (the control plane),
// 127.0.0.11-12 and 127.0.1-3.x, so only one local mesh may run at a time on a machine (the tests of
// this file run one after the other).
const LAUNCHER = fileURLToPath(new URL('../../daemonset/dist/local-mesh/main.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/mesh', import.meta.url));
/** The demo bounds itself to 60 s; this only catches a launcher that ignores its own bound. */
const TEST_TIMEOUT_MS = 90_000;
/** `npm start`: startup and a few 5 s rounds; this only bounds a launcher that stopped making progress. */
const LINE_TIMEOUT_MS = 30_000;

interface Run {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /**
   * Resolves with the first line from line number `from` on (printed already or later) that matches;
   * rejects after `LINE_TIMEOUT_MS`.
   */
  line(pattern: RegExp, from?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launch(args: string[]): Run {
  const child = spawn(process.execPath, [LAUNCHER, ...args], {
    // No colour codes in what we match.
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters = new Set<() => void>();
  const onChunk = (chunk: string): void => {
    output += chunk;
    for (const waiter of waiters) waiter();
  };
  child.stdout.setEncoding('utf8').on('data', onChunk);
  child.stderr.setEncoding('utf8').on('data', onChunk);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const line = (pattern: RegExp, from = 0): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = output
          .split('\n')
          .slice(from)
          .find((text) => pattern.test(text));
        if (found === undefined) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(`no line matching ${String(pattern)} within ${String(LINE_TIMEOUT_MS)} ms:\n${output}`),
        );
      }, LINE_TIMEOUT_MS);
      waiters.add(check);
      check();
    });
  return { child, output: () => output, line, exited };
}

const running: Run[] = [];
const copies: string[] = [];
afterEach(async () => {
  for (const run of running.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await run.exited;
  }
  await Promise.all(copies.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('npm run demo: the local mesh on loopback, driven by the control plane from examples/mesh', () => {
  it(
    'serves the folder over xDS, gets every certificate from the CA, runs every step of the tour (one denied by policy) and passes every check',
    async () => {
      const run = launch(['--demo']);
      running.push(run);
      const { code, signal } = await run.exited;
      const output = run.output();
      const checkLines = output.split('\n').filter((line) => /^\s*[✓✗] /.test(line));
      const failed = checkLines.filter((line) => line.trimStart().startsWith('✗'));
      expect(failed, output).toEqual([]);
      expect({ code, signal }, output).toEqual({ code: 0, signal: null });
      // Both ztunnels hold the folder's mesh from the control plane; every certificate came from the
      // CA; each path of the tour was shown and checked (its mTLS steps with those certificates, both
      // ways); the policy denied sleep → reviews at node-b; both ztunnels drained and the control
      // plane stopped on SIGTERM.
      for (const expected of [
        '✓ node-a: holds the mesh of examples/mesh (6 workloads, 1 service, 1 policy), served by the control plane over xDS',
        '✓ node-b: holds the mesh of examples/mesh (6 workloads, 1 service, 1 policy), served by the control plane over xDS',
        '✓ node-a: an Available certificate for each of its 2 mesh identities, 2 different serials',
        '✓ node-b: an Available certificate for each of its 2 mesh identities, 2 different serials',
        "✓ node-a: the CA's log shows it issued each of them to ztunnel-node-a",
        "✓ node-b: the CA's log shows it issued each of them to ztunnel-node-b",
        '✓ node-a: istio_ztunnel_certificate_requests_total: 2 successful, 0 failed',
        '✓ node-b: istio_ztunnel_certificate_requests_total: 2 successful, 0 failed',
        '✓ node-a outbound: HBONE to 127.0.2.1:15008, CONNECT 127.0.2.1:8080 (echo-v1)',
        '✓ identities: default/sa/productpage → default/sa/reviews in both access logs (mTLS)',
        '✓ load balancing:',
        `✓ refused: node-a's SOCKS5 answered "connection refused" (reply 5); the app of reviews was never reached`,
        '✓ node-a outbound: HBONE CONNECT 127.0.2.2:8080 (reviews) answered 401',
        '✓ node-b inbound: denied sleep → reviews, access log error "allow policies exist, but none allowed" (policy default/reviews-callers)',
        '✓ identities: default/sa/sleep → default/sa/reviews in both access logs (mTLS)',
        '✓ metrics: node-b (destination) counted it closed and failed with response_flags="DENY", node-a (source) counted it failed',
        '✓ node-a outbound: plain TCP to 127.0.2.9:8080 (legacy is not in the mesh)',
        '✓ node-a outbound: passthrough to 127.0.3.1:8080 (no workload has that address)',
        '✓ node-a: ztunnel drained and exited 0 on SIGTERM',
        '✓ node-b: ztunnel drained and exited 0 on SIGTERM',
        '✓ control plane exited 0 on SIGTERM',
      ]) {
        expect(output).toContain(expected);
      }
      expect(output).toMatch(/✓ all \d+ checks passed/);
      // The mesh as the folder has it, the denied step in the table, and its DENY counter.
      expect(output).toMatch(
        /policy +default\/reviews-callers +ALLOW on reviews: from cluster\.local\/ns\/default\/sa\/productpage/,
      );
      expect(output).toMatch(
        /4 +sleep +reviews 127\.0\.2\.2:8080 +denied \(401\) +default\/sa\/sleep → default\/sa\/reviews +- +nobody: allow policies exist, but none allowed/,
      );
      expect(output).toContain(
        '{reporter="destination",source_workload="sleep",destination_workload="reviews",response_flags="DENY"} 1',
      );
      // The certificates the tour used, as each ztunnel's /config_dump lists them, under the CA's root.
      expect(output).toMatch(
        /CA 127\.0\.0\.10:15012 {2}root O=cluster\.local, SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/,
      );
      for (const identity of ['sleep', 'productpage', 'echo', 'reviews']) {
        expect(output).toMatch(new RegExp(`default/sa/${identity} +Available +serial [0-9a-f]+ +expires `));
      }
      expect(checkLines.length).toBeGreaterThan(40);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('npm start: the local mesh follows edits of its folder', () => {
  it(
    'lets sleep reach reviews from the round after the policy file is moved away, denies it again once it is back, and stops cleanly on Ctrl-C',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'local-mesh-start-'));
      copies.push(dir);
      await cp(EXAMPLE, dir, { recursive: true });
      const run = launch(['--config', dir]);
      running.push(run);

      await run.line(/round 2: \d+ connections, denied by policy: sleep → reviews, ✓ all \d+ checks passed/);
      await rename(join(dir, 'policies.yaml'), join(dir, 'policies.yaml.off'));
      const removed = await run.line(/mesh config changed: .*policy default\/reviews-callers removed/);
      const allowed = await run.line(
        /round \d+: \d+ connections, no step denied by policy, /,
        run.output().split('\n').indexOf(removed),
      );
      expect(allowed, run.output()).toMatch(/✓ all \d+ checks passed$/);

      await rename(join(dir, 'policies.yaml.off'), join(dir, 'policies.yaml'));
      const added = await run.line(/mesh config changed: .*policy default\/reviews-callers added/);
      const denied = await run.line(
        /round \d+: \d+ connections, denied by policy: sleep → reviews, /,
        run.output().split('\n').indexOf(added),
      );
      expect(denied, run.output()).toMatch(/✓ all \d+ checks passed$/);

      run.child.kill('SIGINT');
      const { code, signal } = await run.exited;
      const output = run.output();
      expect({ code, signal }, output).toEqual({ code: 0, signal: null });
      expect(output).not.toMatch(/✗/);
      for (const expected of [
        '✓ node-a: ztunnel drained and exited 0 on SIGTERM',
        '✓ node-b: ztunnel drained and exited 0 on SIGTERM',
        '✓ control plane exited 0 on SIGTERM',
      ]) {
        expect(output).toContain(expected);
      }
    },
    TEST_TIMEOUT_MS,
  );
});
