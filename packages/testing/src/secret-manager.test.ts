// @ambient/identity's SecretManager with real certificates from the test PKI and a scripted CA,
// on fake timers. It lives here because identity cannot depend on @ambient/testing.
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, createLogger, isMeshError } from '@ambient/core';
import {
  SecretManager,
  type CertificateFetcher,
  type CertificateMaterial,
  type SecretManagerOptions,
  type WorkloadCertificate,
} from '@ambient/identity';
import { TestPki } from './pki.js';

const SECOND_MS = 1_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const TTL_SECONDS = 86_400;
const ECHO = 'spiffe://cluster.local/ns/default/sa/echo';
const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';

interface PendingFetch {
  identityUri: string;
  ttlSeconds: number;
  resolve: (material: CertificateMaterial) => void;
  reject: (err: unknown) => void;
}

/** A CA whose every answer the test gives by hand, counting how many CSRs run at once. */
class ScriptedCa implements CertificateFetcher {
  readonly pending: PendingFetch[] = [];
  readonly calls: string[] = [];
  maxInFlight = 0;

  fetchCertificate(identityUri: string, ttlSeconds: number): Promise<CertificateMaterial> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        this.pending.splice(this.pending.indexOf(fetch), 1);
      };
      const fetch: PendingFetch = {
        identityUri,
        ttlSeconds,
        resolve: (material) => {
          settle();
          resolve(material);
        },
        reject: (err) => {
          settle();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      };
      this.pending.push(fetch);
      this.calls.push(identityUri);
      this.maxInFlight = Math.max(this.maxInFlight, this.pending.length);
    });
  }

  /** The one CSR in flight for this identity. */
  take(identityUri: string): PendingFetch {
    const matching = this.pending.filter((fetch) => fetch.identityUri === identityUri);
    if (matching.length !== 1) throw new Error(`${matching.length} CSRs in flight for ${identityUri}`);
    const [fetch] = matching;
    if (fetch === undefined) throw new Error('unreachable');
    return fetch;
  }
}

let pki: TestPki;
let ca: ScriptedCa;
const managers: SecretManager[] = [];

beforeAll(async () => {
  pki = await TestPki.create();
});

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  // Certificates carry whole seconds: start on one so that half-lives land where the test expects.
  vi.setSystemTime(Math.floor(Date.now() / SECOND_MS) * SECOND_MS);
  ca = new ScriptedCa();
});

afterEach(() => {
  for (const manager of managers.splice(0)) manager.close();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

function manager(options: Partial<SecretManagerOptions> = {}): SecretManager {
  const created = new SecretManager({
    client: ca,
    ttlSeconds: TTL_SECONDS,
    logger: createLogger({ level: 'silent' }),
    // No jitter unless a test asks for it: random() = 0.5 spreads by zero.
    backoff: { random: () => 0.5 },
    ...options,
  });
  managers.push(created);
  return created;
}

/** A certificate for `identity` valid from `fromMs` after now until `untilMs` after now. */
async function material(identity: string, fromMs: number, untilMs: number): Promise<CertificateMaterial> {
  const now = Date.now();
  return pki.issue({ identity, notBefore: new Date(now + fromMs), notAfter: new Date(now + untilMs) });
}

/** Lets the manager see settled CSRs (setImmediate is not faked, so it runs after their callbacks). */
async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

async function answer(identity: string, fromMs = 0, untilMs = DAY_MS): Promise<void> {
  const issued = await material(identity, fromMs, untilMs);
  ca.take(identity).resolve(issued);
  await settle();
}

async function refuse(identity: string, message = 'CA unavailable'): Promise<void> {
  ca.take(identity).reject(new Error(message));
  await settle();
}

/** Asserts that the next CSR for `identity` starts exactly `delayMs` from now, and not a millisecond sooner. */
function expectNextCsrAfter(identity: string, delayMs: number): void {
  const before = ca.calls.length;
  vi.advanceTimersByTime(delayMs - 1);
  expect(ca.calls.length).toBe(before);
  vi.advanceTimersByTime(1);
  expect(ca.calls.slice(before)).toEqual([identity]);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('SecretManager', () => {
  it('prefetches a tracked identity with the configured TTL', async () => {
    const secrets = manager();
    const rotations: [string, WorkloadCertificate][] = [];
    secrets.onRotate((identity, certificate) => rotations.push([identity, certificate]));
    secrets.track(ECHO);
    expect(ca.pending.map((fetch) => [fetch.identityUri, fetch.ttlSeconds])).toEqual([[ECHO, TTL_SECONDS]]);
    expect(secrets.certificateFor(ECHO)).toBeUndefined();
    expect(secrets.states()).toEqual([{ identity: ECHO, state: 'Initializing' }]);

    await answer(ECHO);
    const certificate = secrets.certificateFor(ECHO);
    expect(certificate?.identityUri).toBe(ECHO);
    expect(rotations).toEqual([[ECHO, certificate]]);
    expect(secrets.states()).toEqual([{ identity: ECHO, state: 'Available', certificate }]);
    expect(secrets.issued).toBe(1);
    expect(secrets.failed).toBe(0);
  });

  it('renews at half-life, counted from the certificate not from its arrival', async () => {
    const secrets = manager();
    const rotated: string[] = [];
    secrets.onRotate((_identity, certificate) => rotated.push(certificate.serialNumber));
    secrets.track(ECHO);
    // Backdated an hour: valid 24 h in all, so half-life is 11 h from now.
    await answer(ECHO, -HOUR_MS, 23 * HOUR_MS);
    const first = secrets.certificateFor(ECHO);

    expectNextCsrAfter(ECHO, 11 * HOUR_MS);
    expect(secrets.certificateFor(ECHO)).toBe(first);
    await answer(ECHO);
    const second = secrets.certificateFor(ECHO);
    expect(second).not.toBe(first);
    expect(rotated).toEqual([first?.serialNumber, second?.serialNumber]);

    expectNextCsrAfter(ECHO, 12 * HOUR_MS);
  });

  it('keeps serving the old certificate while the CA fails, backing off, and recovers', async () => {
    const secrets = manager();
    secrets.track(ECHO);
    await answer(ECHO);
    const old = secrets.certificateFor(ECHO);

    expectNextCsrAfter(ECHO, 12 * HOUR_MS);
    await refuse(ECHO);
    expect(secrets.certificateFor(ECHO)).toBe(old);
    expect(secrets.states()[0]?.state).toBe('Available');
    expect(await secrets.waitForCertificate(ECHO)).toBe(old);

    expectNextCsrAfter(ECHO, 1_000);
    await refuse(ECHO);
    expectNextCsrAfter(ECHO, 2_000);
    await refuse(ECHO);
    expectNextCsrAfter(ECHO, 4_000);
    await answer(ECHO);
    const renewed = secrets.certificateFor(ECHO);
    expect(renewed).not.toBe(old);
    expect(secrets.failed).toBe(3);
    expect(secrets.issued).toBe(2);

    // A success resets the backoff: the next failure waits one second again.
    expectNextCsrAfter(ECHO, 12 * HOUR_MS);
    await refuse(ECHO);
    expectNextCsrAfter(ECHO, 1_000);
  });

  it('drops an expired certificate, reports the CA error, and caps the backoff', async () => {
    const secrets = manager();
    secrets.track(ECHO);
    await answer(ECHO, 0, 20 * SECOND_MS);
    expectNextCsrAfter(ECHO, 10 * SECOND_MS);
    await refuse(ECHO, 'istiod is down');
    // 1 + 2 + 4 + 8 s of retries outlive the 10 s the certificate had left.
    for (const delayMs of [1_000, 2_000, 4_000, 8_000]) {
      expectNextCsrAfter(ECHO, delayMs);
      await refuse(ECHO, 'istiod is down');
    }
    expect(secrets.certificateFor(ECHO)).toBeUndefined();
    const [state] = secrets.states();
    expect(state?.state).toMatch(/^Unavailable: .*istiod is down/);

    // A connection does not wait out the backoff: it fails at once, and asks nothing of the CA.
    const callsBefore = ca.calls.length;
    const err = await rejection(secrets.waitForCertificate(ECHO));
    expect(isMeshError(err, ErrorCode.CertMissing)).toBe(true);
    expect(String(err)).toContain('istiod is down');
    expect(ca.calls.length).toBe(callsBefore);

    for (const delayMs of [16_000, 32_000, 64_000, 128_000, 150_000, 150_000]) {
      expectNextCsrAfter(ECHO, delayMs);
      await refuse(ECHO);
    }
    expectNextCsrAfter(ECHO, 150_000);
    await answer(ECHO);
    expect(secrets.states()[0]?.state).toBe('Available');
    expect((await secrets.waitForCertificate(ECHO)).identityUri).toBe(ECHO);
  });

  it('spreads retries by the jitter', async () => {
    const low = manager({ backoff: { random: () => 0 } });
    low.track(ECHO);
    await refuse(ECHO);
    expectNextCsrAfter(ECHO, 800);

    const high = manager({ backoff: { random: () => 1 } });
    high.track(SLEEP);
    await refuse(SLEEP);
    expectNextCsrAfter(SLEEP, 1_200);
  });

  it('runs at most maxConcurrent CSRs at once', async () => {
    const secrets = manager();
    const identities = Array.from({ length: 20 }, (_, i) => `spiffe://cluster.local/ns/default/sa/sa-${i}`);
    for (const identity of identities) secrets.track(identity);
    expect(ca.pending).toHaveLength(8);

    for (const identity of identities) await answer(identity);
    expect(ca.maxInFlight).toBe(8);
    expect(ca.calls).toEqual(identities);
    expect(identities.every((identity) => secrets.certificateFor(identity) !== undefined)).toBe(true);
  });

  it('serves a waiting connection first, then prefetches, then renewals', async () => {
    const secrets = manager({ maxConcurrent: 1 });
    const refresh = 'spiffe://cluster.local/ns/default/sa/refresh';
    const warm = 'spiffe://cluster.local/ns/default/sa/warm';
    const urgent = 'spiffe://cluster.local/ns/default/sa/urgent';
    secrets.track(refresh);
    await answer(refresh, 0, 2 * SECOND_MS);
    secrets.track(ECHO);
    // The one slot is busy with ECHO: everything below queues.
    secrets.track(warm);
    vi.advanceTimersByTime(SECOND_MS);
    const waiting = secrets.waitForCertificate(urgent);
    expect(ca.calls).toEqual([refresh, ECHO]);

    await answer(ECHO);
    expect(ca.calls.at(-1)).toBe(urgent);
    await answer(urgent);
    expect((await waiting).identityUri).toBe(urgent);
    expect(ca.calls.at(-1)).toBe(warm);
    await answer(warm);
    expect(ca.calls.at(-1)).toBe(refresh);
  });

  it('coalesces concurrent waiters into one CSR', async () => {
    const secrets = manager();
    const waits = [
      secrets.waitForCertificate(ECHO),
      secrets.waitForCertificate(ECHO),
      secrets.waitForCertificate(ECHO),
    ];
    expect(ca.calls).toEqual([ECHO]);
    await answer(ECHO);
    const [first, ...others] = await Promise.all(waits);
    expect(first?.identityUri).toBe(ECHO);
    for (const other of others) expect(other).toBe(first);
    expect(await secrets.waitForCertificate(ECHO)).toBe(first);
    expect(ca.calls).toEqual([ECHO]);
  });

  it('a waiter joins a prefetch already running', async () => {
    const secrets = manager();
    secrets.track(ECHO);
    const waiting = secrets.waitForCertificate(ECHO);
    await answer(ECHO);
    expect(await waiting).toBe(secrets.certificateFor(ECHO));
    expect(ca.calls).toEqual([ECHO]);
  });

  it('fails every waiter of a first CSR that fails', async () => {
    const secrets = manager();
    const failures = [
      rejection(secrets.waitForCertificate(ECHO)),
      rejection(secrets.waitForCertificate(ECHO)),
    ];
    await refuse(ECHO, 'denied');
    for (const failure of failures) {
      const err = await failure;
      expect(isMeshError(err, ErrorCode.CertMissing)).toBe(true);
      expect(String(err)).toContain('denied');
    }
  });

  it('forgets an identity when the last workload with it goes', async () => {
    const secrets = manager();
    secrets.track(ECHO);
    secrets.track(ECHO);
    secrets.track(SLEEP);
    await answer(ECHO);
    await answer(SLEEP);

    secrets.untrack(ECHO);
    expect(secrets.certificateFor(ECHO)).toBeDefined();
    secrets.untrack(ECHO);
    expect(secrets.certificateFor(ECHO)).toBeUndefined();
    expect(secrets.states().map((state) => state.identity)).toEqual([SLEEP]);

    // Only SLEEP is renewed.
    vi.advanceTimersByTime(DAY_MS);
    expect(ca.calls).toEqual([ECHO, SLEEP, SLEEP]);
  });

  it('drops the answer to a CSR whose identity was forgotten meanwhile', async () => {
    const secrets = manager();
    const rotations: string[] = [];
    secrets.onRotate((identity) => rotations.push(identity));
    secrets.track(ECHO);
    const failure = rejection(secrets.waitForCertificate(ECHO));
    secrets.untrack(ECHO);
    expect(isMeshError(await failure, ErrorCode.CertMissing)).toBe(true);

    await answer(ECHO);
    expect(secrets.certificateFor(ECHO)).toBeUndefined();
    expect(secrets.states()).toEqual([]);
    expect(rotations).toEqual([]);
    vi.advanceTimersByTime(DAY_MS);
    expect(ca.calls).toEqual([ECHO]);
  });

  it('rejects what the CA returns for another identity, or already expired', async () => {
    const secrets = manager();
    const failure = rejection(secrets.waitForCertificate(ECHO));
    ca.take(ECHO).resolve(await material(SLEEP, 0, DAY_MS));
    await settle();
    const err = await failure;
    expect(isMeshError(err, ErrorCode.CertMissing)).toBe(true);
    expect(String(err)).toContain(SLEEP);

    expectNextCsrAfter(ECHO, 1_000);
    ca.take(ECHO).resolve(await material(ECHO, -DAY_MS, -HOUR_MS));
    await settle();
    expect(secrets.certificateFor(ECHO)).toBeUndefined();
    expect(secrets.failed).toBe(2);
    expect(secrets.issued).toBe(0);
  });

  it('keeps going when a rotation listener throws, and stops calling an unsubscribed one', async () => {
    const secrets = manager();
    const seen: string[] = [];
    secrets.onRotate(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = secrets.onRotate((identity) => seen.push(`gone ${identity}`));
    secrets.onRotate((identity) => seen.push(identity));
    unsubscribe();
    const waiting = secrets.waitForCertificate(ECHO);
    await answer(ECHO);
    expect((await waiting).identityUri).toBe(ECHO);
    expect(seen).toEqual([ECHO]);
  });

  it('never keeps the process alive with its timers', async () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const secrets = manager();
    secrets.track(ECHO);
    await answer(ECHO);
    secrets.track(SLEEP);
    await refuse(SLEEP);
    const timers = setTimeoutSpy.mock.results.map((result) => result.value as NodeJS.Timeout);
    expect(timers).toHaveLength(2);
    for (const timer of timers) expect(timer.hasRef()).toBe(false);
  });

  it('close stops every timer and fails waiters', async () => {
    const secrets = manager();
    secrets.track(ECHO);
    await answer(ECHO);
    const failure = rejection(secrets.waitForCertificate(SLEEP));
    expect(vi.getTimerCount()).toBe(1);
    secrets.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(isMeshError(await failure, ErrorCode.CertMissing)).toBe(true);
    expect(isMeshError(await rejection(secrets.waitForCertificate(ECHO)), ErrorCode.CertMissing)).toBe(true);
    vi.advanceTimersByTime(DAY_MS);
    expect(ca.calls).toEqual([ECHO, SLEEP]);
  });
});
