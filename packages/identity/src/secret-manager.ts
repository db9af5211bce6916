import { Backoff, ErrorCode, MeshError, errorMessage, type Logger } from '@ambient/core';
import { WorkloadCertificate, type CertificateMaterial } from './certificate.js';
import type { CertificateProvider } from './store.js';

/** What the SecretManager needs of a CA: `CaClient` in production, anything in tests. */
export interface CertificateFetcher {
  fetchCertificate(identityUri: string, ttlSeconds: number): Promise<CertificateMaterial>;
}

export interface SecretManagerBackoffOptions {
  /** First retry delay after a failed CSR. */
  initialMs?: number;
  /** The delay doubles per failure up to this. */
  maxMs?: number;
  /** Fraction of each delay randomised either way. */
  jitter?: number;
  random?: () => number;
}

export interface SecretManagerOptions {
  client: CertificateFetcher;
  /** validity_duration asked of the CA (ztunnel's SECRET_TTL). */
  ttlSeconds: number;
  /** CSRs in flight at once. */
  maxConcurrent?: number;
  logger: Logger;
  /** Wall-clock milliseconds; certificates' validity is wall-clock time. */
  now?: () => number;
  backoff?: SecretManagerBackoffOptions;
}

export type CertificateStateName = 'Initializing' | 'Available' | `Unavailable: ${string}`;

/** One identity's entry as /config_dump shows it. */
export interface CertificateState {
  identity: string;
  state: CertificateStateName;
  certificate?: WorkloadCertificate;
}

export type RotateListener = (identityUri: string, certificate: WorkloadCertificate) => void;

/** ztunnel's limit: enough to warm a node quickly without flooding istiod when many pods start. */
export const DEFAULT_MAX_CONCURRENT_CSRS = 8;
/** ztunnel's retry schedule for a failed CSR: 1 s doubling to 150 s, ±20 %. */
export const DEFAULT_CSR_BACKOFF_INITIAL_MS = 1_000;
export const DEFAULT_CSR_BACKOFF_MAX_MS = 150_000;
export const DEFAULT_CSR_BACKOFF_JITTER = 0.2;
/** A CA that hands out certificates already past their half-life must not make us spin. */
const MIN_REFRESH_DELAY_MS = 1_000;
/** setTimeout fires at once for anything longer (about 24.8 days); longer waits are re-armed. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Lower runs first: a connection waiting, then warming a new workload, then routine refresh. */
const Priority = { RealTime: 0, Warmup: 1, Background: 2 } as const;
type Priority = (typeof Priority)[keyof typeof Priority];
const PRIORITIES: readonly Priority[] = [Priority.RealTime, Priority.Warmup, Priority.Background];

interface Waiter {
  resolve: (certificate: WorkloadCertificate) => void;
  reject: (err: MeshError) => void;
}

/** `idle`: nothing queued or running (a refresh or retry timer may be armed). */
type Phase = 'idle' | 'queued' | 'fetching';

interface Entry {
  readonly identityUri: string;
  /** track() calls not yet matched by untrack(); an entry only waited for has none. */
  references: number;
  certificate: WorkloadCertificate | undefined;
  /** Why the last CSR failed; cleared by a success. */
  lastError: MeshError | undefined;
  phase: Phase;
  /** Meaningful while queued. */
  priority: Priority;
  timer: NodeJS.Timeout | undefined;
  waiters: Waiter[];
  readonly backoff: Backoff;
}

/**
 * Certificates from a CA for the identities of this node's workloads, as ztunnel's SecretManager
 * keeps them: one per identity, fetched ahead of need (`track`), renewed at half-life, retried
 * with per-identity backoff while the old certificate keeps serving until it expires, and at
 * most `maxConcurrent` CSRs in flight, the most urgent first.
 */
export class SecretManager implements CertificateProvider {
  private readonly client: CertificateFetcher;
  private readonly ttlSeconds: number;
  private readonly maxConcurrent: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly backoffOptions: Required<SecretManagerBackoffOptions>;
  private readonly entries = new Map<string, Entry>();
  /** One FIFO per priority, indexed by Priority. */
  private readonly queues: Entry[][] = PRIORITIES.map(() => []);
  private readonly rotateListeners = new Set<RotateListener>();
  private inFlight = 0;
  private closed = false;
  private issuedCount = 0;
  private failedCount = 0;

  constructor(options: SecretManagerOptions) {
    this.client = options.client;
    this.ttlSeconds = options.ttlSeconds;
    this.maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_CSRS;
    if (!Number.isInteger(this.maxConcurrent) || this.maxConcurrent < 1) {
      throw new MeshError(
        ErrorCode.ConfigInvalid,
        `maxConcurrent must be a positive integer, not ${this.maxConcurrent}`,
      );
    }
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.backoffOptions = {
      initialMs: options.backoff?.initialMs ?? DEFAULT_CSR_BACKOFF_INITIAL_MS,
      maxMs: options.backoff?.maxMs ?? DEFAULT_CSR_BACKOFF_MAX_MS,
      jitter: options.backoff?.jitter ?? DEFAULT_CSR_BACKOFF_JITTER,
      random: options.backoff?.random ?? Math.random,
    };
  }

  /** Certificates issued (and accepted) since start. */
  get issued(): number {
    return this.issuedCount;
  }

  /** CSRs that failed (CA error, or an unusable answer) since start. */
  get failed(): number {
    return this.failedCount;
  }

  /** A workload with this identity now runs here: fetch its certificate ahead of its first connection. */
  track(identityUri: string): void {
    if (this.closed) return;
    const existing = this.entries.get(identityUri);
    if (existing !== undefined) {
      existing.references++;
      return;
    }
    const entry = this.createEntry(identityUri);
    entry.references = 1;
    this.enqueue(entry, Priority.Warmup);
    this.pump();
  }

  /** One workload with this identity left; the last one's departure forgets the certificate. */
  untrack(identityUri: string): void {
    const entry = this.entries.get(identityUri);
    if (entry === undefined) return;
    entry.references = Math.max(0, entry.references - 1);
    if (entry.references === 0) this.forget(entry);
  }

  /** The current certificate if it has not expired; never waits and never asks the CA. */
  certificateFor(identityUri: string): WorkloadCertificate | undefined {
    const entry = this.entries.get(identityUri);
    return entry === undefined ? undefined : this.validCertificate(entry);
  }

  /**
   * The current certificate, fetching it first (ahead of every other CSR) if there is none.
   * Concurrent callers share one CSR. While a failed identity waits out its backoff this rejects at
   * once rather than holding a connection for up to minutes. Rejects with MeshError(CertMissing),
   * the CA's error as its cause.
   */
  waitForCertificate(identityUri: string): Promise<WorkloadCertificate> {
    if (this.closed) return Promise.reject(missing(identityUri, 'the secret manager is closed'));
    let entry = this.entries.get(identityUri);
    const current = entry === undefined ? undefined : this.validCertificate(entry);
    if (current !== undefined) return Promise.resolve(current);
    if (entry?.phase === 'idle' && entry.lastError !== undefined) {
      return Promise.reject(unavailable(entry));
    }
    entry ??= this.createEntry(identityUri);
    const { waiters } = entry;
    const waiting = new Promise<WorkloadCertificate>((resolve, reject) => {
      waiters.push({ resolve, reject });
    });
    this.enqueue(entry, Priority.RealTime);
    this.pump();
    return waiting;
  }

  /** Called after every new certificate (first or renewed); returns the unsubscribe function. */
  onRotate(listener: RotateListener): () => void {
    this.rotateListeners.add(listener);
    return () => this.rotateListeners.delete(listener);
  }

  states(): CertificateState[] {
    return [...this.entries.values()].map((entry) => {
      const state: CertificateState = { identity: entry.identityUri, state: this.stateName(entry) };
      if (entry.certificate !== undefined) state.certificate = entry.certificate;
      return state;
    });
  }

  /** Stops every timer and fails every waiter; CSRs in flight finish unheard. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.entries.values()) this.discard(entry, 'the secret manager is closed');
    this.entries.clear();
    for (const queue of this.queues) queue.length = 0;
    this.rotateListeners.clear();
  }

  private createEntry(identityUri: string): Entry {
    const { initialMs, maxMs, jitter, random } = this.backoffOptions;
    const entry: Entry = {
      identityUri,
      references: 0,
      certificate: undefined,
      lastError: undefined,
      phase: 'idle',
      priority: Priority.Background,
      timer: undefined,
      waiters: [],
      backoff: new Backoff(initialMs, maxMs, jitter, random),
    };
    this.entries.set(identityUri, entry);
    return entry;
  }

  private validCertificate(entry: Entry): WorkloadCertificate | undefined {
    const { certificate } = entry;
    return certificate !== undefined && certificate.notAfter.getTime() > this.now() ? certificate : undefined;
  }

  private stateName(entry: Entry): CertificateStateName {
    if (this.validCertificate(entry) !== undefined) return 'Available';
    if (entry.lastError !== undefined) return `Unavailable: ${entry.lastError.message}`;
    return 'Initializing';
  }

  /** Queue a CSR, or make a queued one more urgent; a CSR already running stays as it is. */
  private enqueue(entry: Entry, priority: Priority): void {
    if (entry.phase === 'fetching') return;
    if (entry.phase === 'queued') {
      if (priority >= entry.priority) return;
      this.removeFromQueue(entry);
    }
    this.clearTimer(entry);
    entry.phase = 'queued';
    entry.priority = priority;
    this.queueOf(priority).push(entry);
  }

  private removeFromQueue(entry: Entry): void {
    const queue = this.queueOf(entry.priority);
    const index = queue.indexOf(entry);
    if (index >= 0) queue.splice(index, 1);
  }

  private queueOf(priority: Priority): Entry[] {
    const queue = this.queues[priority];
    if (queue === undefined) throw new Error(`no queue for priority ${priority}`);
    return queue;
  }

  /** Start queued CSRs, most urgent first, while there is room. */
  private pump(): void {
    while (!this.closed && this.inFlight < this.maxConcurrent) {
      const entry = this.queues.find((queue) => queue.length > 0)?.shift();
      if (entry === undefined) return;
      this.start(entry);
    }
  }

  private start(entry: Entry): void {
    entry.phase = 'fetching';
    this.inFlight++;
    let fetching: Promise<CertificateMaterial>;
    try {
      fetching = this.client.fetchCertificate(entry.identityUri, this.ttlSeconds);
    } catch (err) {
      fetching = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    void fetching
      .then(
        (material) => {
          this.settle(entry, material, undefined);
        },
        (err: unknown) => {
          this.settle(entry, undefined, err);
        },
      )
      .catch((err: unknown) => {
        this.logger.error({ identity: entry.identityUri, err }, 'certificate bookkeeping failed');
      });
  }

  private settle(entry: Entry, material: CertificateMaterial | undefined, fetchError: unknown): void {
    this.inFlight--;
    // Forgotten (or closed) while the CSR ran: the answer has nobody left to serve.
    if (this.entries.get(entry.identityUri) === entry) {
      entry.phase = 'idle';
      if (material === undefined) {
        this.onFailure(entry, fetchError);
      } else {
        let certificate: WorkloadCertificate | undefined;
        try {
          certificate = this.accept(entry.identityUri, material);
        } catch (err) {
          this.onFailure(entry, err);
        }
        if (certificate !== undefined) this.onSuccess(entry, certificate);
      }
    }
    this.pump();
  }

  /** Checks what the CA's answer would be used for: right identity, not yet expired. */
  private accept(identityUri: string, material: CertificateMaterial): WorkloadCertificate {
    const certificate = WorkloadCertificate.fromPem(material);
    if (certificate.identityUri !== identityUri) {
      throw new MeshError(
        ErrorCode.CaRequestFailed,
        `certificate for ${identityUri}: the CA issued one for ${certificate.identityUri}`,
      );
    }
    if (certificate.notAfter.getTime() <= this.now()) {
      throw new MeshError(
        ErrorCode.CaRequestFailed,
        `certificate for ${identityUri}: the CA issued one that expired at ${certificate.notAfter.toISOString()}`,
      );
    }
    return certificate;
  }

  private onSuccess(entry: Entry, certificate: WorkloadCertificate): void {
    this.issuedCount++;
    entry.certificate = certificate;
    entry.lastError = undefined;
    entry.backoff.reset();
    const notBeforeMs = certificate.notBefore.getTime();
    const halfLifeMs = notBeforeMs + (certificate.notAfter.getTime() - notBeforeMs) / 2;
    const refreshAtMs = Math.max(halfLifeMs, this.now() + MIN_REFRESH_DELAY_MS);
    this.schedule(entry, refreshAtMs, Priority.Background);
    this.logger.info(
      {
        identity: entry.identityUri,
        serial: certificate.serialNumber,
        notAfter: certificate.notAfter.toISOString(),
        refreshAt: new Date(refreshAtMs).toISOString(),
      },
      'certificate issued',
    );
    const waiters = entry.waiters.splice(0);
    for (const waiter of waiters) waiter.resolve(certificate);
    for (const listener of this.rotateListeners) {
      try {
        listener(entry.identityUri, certificate);
      } catch (err) {
        this.logger.error({ identity: entry.identityUri, err }, 'certificate rotation listener failed');
      }
    }
  }

  private onFailure(entry: Entry, err: unknown): void {
    this.failedCount++;
    entry.lastError =
      err instanceof MeshError
        ? err
        : new MeshError(
            ErrorCode.CaRequestFailed,
            `certificate for ${entry.identityUri}: ${errorMessage(err)}`,
            {
              cause: err,
            },
          );
    const retryInMs = entry.backoff.next();
    const current = this.validCertificate(entry);
    // With a certificate still valid there is no hurry; without one, a workload is waiting for it.
    this.schedule(
      entry,
      this.now() + retryInMs,
      current === undefined ? Priority.Warmup : Priority.Background,
    );
    this.logger.warn(
      {
        identity: entry.identityUri,
        err: entry.lastError,
        retryInMs,
        servingUntil: current?.notAfter.toISOString(),
      },
      'certificate request failed',
    );
    const waiters = entry.waiters.splice(0);
    for (const waiter of waiters) {
      if (current === undefined) waiter.reject(unavailable(entry));
      else waiter.resolve(current);
    }
  }

  /** Queue a CSR at `dueMs` (wall clock). */
  private schedule(entry: Entry, dueMs: number, priority: Priority): void {
    this.clearTimer(entry);
    const delayMs = Math.min(Math.max(0, dueMs - this.now()), MAX_TIMER_DELAY_MS);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.now() < dueMs) {
        this.schedule(entry, dueMs, priority);
        return;
      }
      this.enqueue(entry, priority);
      this.pump();
    }, delayMs);
    // Renewals must never keep a process alive that has nothing else to do.
    entry.timer.unref();
  }

  private clearTimer(entry: Entry): void {
    if (entry.timer === undefined) return;
    clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  private forget(entry: Entry): void {
    this.discard(entry, 'no workload with this identity is left');
    this.entries.delete(entry.identityUri);
    this.logger.debug({ identity: entry.identityUri }, 'certificate forgotten');
  }

  private discard(entry: Entry, reason: string): void {
    this.clearTimer(entry);
    if (entry.phase === 'queued') this.removeFromQueue(entry);
    const waiters = entry.waiters.splice(0);
    for (const waiter of waiters) waiter.reject(missing(entry.identityUri, reason));
  }
}

function missing(identityUri: string, reason: string, cause?: unknown): MeshError {
  return new MeshError(ErrorCode.CertMissing, `no certificate for ${identityUri}: ${reason}`, { cause });
}

function unavailable(entry: Entry): MeshError {
  return missing(
    entry.identityUri,
    `the last CA request failed: ${entry.lastError?.message ?? 'unknown error'}`,
    entry.lastError,
  );
}
