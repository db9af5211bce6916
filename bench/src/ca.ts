import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@ambient/core';
import { parseConfig, startControlPlane } from '@ambient/control-plane';
import { CaClient, createCsr } from '@ambient/identity';
import { median, percentile } from './stats.js';

/*
 * `npm run bench:ca`: what a certificate costs. Side by side in one run:
 *   csr only     a fresh ECDSA P-256 key and CSR (the client's share of every issuance)
 *   issue        CSR → CreateCertificate over gRPC+TLS to our CA → chain checked (the whole round)
 * Requests go one at a time (latency) and 8 at a time (a node agent's concurrency limit).
 * Loopback only; bounded in count.
 */

const CA_ADDRESS = '127.31.0.1:15012';
const IDENTITY = 'spiffe://cluster.local/ns/default/sa/bench';
const SEQUENTIAL_REQUESTS = 200;
const CONCURRENT_REQUESTS = 400;
const CONCURRENCY = 8;
const RUNS = 3;

async function timed(
  count: number,
  concurrency: number,
  op: () => Promise<unknown>,
): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const latenciesMs: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const t0 = performance.now();
        await op();
        latenciesMs.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: count / seconds, latenciesMs: latenciesMs.sort((a, b) => a - b) };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-ca-'));
  const token = 'bench-node-token';
  await writeFile(
    join(dir, 'tokens.json'),
    JSON.stringify([{ token, kind: 'workload', identity: IDENTITY }]),
  );
  await writeFile(join(dir, 'token'), token);
  const controlPlane = await startControlPlane(
    parseConfig({
      CA_LISTEN_ADDRESS: CA_ADDRESS,
      CA_STATE_DIR: join(dir, 'ca'),
      CA_TOKENS_FILE: join(dir, 'tokens.json'),
    }),
    { logger: createLogger({ level: 'silent' }) },
  );
  const { readFile } = await import('node:fs/promises');
  const client = new CaClient({
    address: CA_ADDRESS,
    rootCertPem: await readFile(controlPlane.rootCertPath, 'utf8'),
    tokenPath: join(dir, 'token'),
    impersonate: false,
  });
  try {
    const rows: [string, number[], number[], number[]][] = [
      ['CSR only, 1 at a time', [], [], []],
      ['issue, 1 at a time', [], [], []],
      [`issue, ${String(CONCURRENCY)} at a time`, [], [], []],
    ];
    await timed(20, 1, () => client.fetchCertificate(IDENTITY, 3600)); // warm-up: JIT, TLS session to the CA
    for (let run = 0; run < RUNS; run++) {
      const results = [
        await timed(SEQUENTIAL_REQUESTS, 1, () => createCsr(IDENTITY)),
        await timed(SEQUENTIAL_REQUESTS, 1, () => client.fetchCertificate(IDENTITY, 3600)),
        await timed(CONCURRENT_REQUESTS, CONCURRENCY, () => client.fetchCertificate(IDENTITY, 3600)),
      ];
      results.forEach((r, i) => {
        rows[i]?.[1].push(r.perSecond);
        rows[i]?.[2].push(percentile(r.latenciesMs, 50));
        rows[i]?.[3].push(percentile(r.latenciesMs, 99));
      });
    }
    console.log(`CA bench (CA and client in this process; median of ${String(RUNS)} runs)\n`);
    console.log('| flow | per second | p50 (ms) | p99 (ms) |\n|---|---:|---:|---:|');
    for (const [name, perSecond, p50, p99] of rows) {
      console.log(
        `| ${name} | ${median(perSecond).toFixed(0)} | ${median(p50).toFixed(2)} | ${median(p99).toFixed(2)} |`,
      );
    }
  } finally {
    client.close();
    await controlPlane.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
