import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Dialer } from './paths.js';
import { percentile } from './stats.js';
import { timeout } from './timeout.js';

/*
 * The flows every path is measured with. Each takes a Dialer, so the same code, the same client and
 * the same app serve every path; only what lies between them differs.
 */

// 64 KiB: the size of a loopback socket read, so no path pays for odd chunking.
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
// A dial that takes longer has hung: loopback connects and a pooled CONNECT take milliseconds.
const DIAL_TIMEOUT_MS = 10_000;
// Past a flow's own deadline, how long it may take to finish what is in flight before it counts as hung.
const GRACE_MS = 30_000;
// Bounds the latency samples of one measurement (8 MB): far above what a few seconds produce here.
const MAX_SAMPLES = 1_000_000;
// Bounds the connections of one new-connections measurement, whatever the rate.
const MAX_NEW_CONNECTIONS = 1_000_000;

function dialWithin(dial: Dialer, port: number): Promise<net.Socket> {
  return Promise.race([
    dial(port),
    timeout(DIAL_TIMEOUT_MS, `dial to port ${String(port)} did not complete`),
  ]);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface BulkOptions {
  /** Split evenly over the connections. */
  readonly totalBytes: number;
  readonly connections: number;
  /** Senders stop at this bound even if they have not sent their share. */
  readonly timeLimitMs: number;
}

export interface BulkResult {
  readonly gbitPerSecond: number;
  readonly bytes: number;
  readonly seconds: number;
}

/**
 * Bulk throughput: each connection writes its share to the sink and half-closes; the clock stops
 * when the last sink has reported its count, so the time covers delivery, not just queueing.
 * Connections are opened before the clock starts: this measures moving bytes, not dialling.
 */
export async function measureBulk(dial: Dialer, sinkPort: number, options: BulkOptions): Promise<BulkResult> {
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < options.connections; i++) sockets.push(await dialWithin(dial, sinkPort));
    const start = performance.now();
    const deadline = start + options.timeLimitMs;
    const share = Math.floor(options.totalBytes / options.connections);
    const delivered = await Promise.race([
      Promise.all(sockets.map((socket) => sendToSink(socket, share, deadline))),
      timeout(options.timeLimitMs + GRACE_MS, 'bulk transfer did not finish'),
    ]);
    const seconds = (performance.now() - start) / 1000;
    const bytes = delivered.reduce((sum, n) => sum + n, 0);
    return { gbitPerSecond: (bytes * 8) / seconds / 1e9, bytes, seconds };
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

/** Writes up to `maxBytes` (or until `deadline`), half-closes, resolves with the count the sink confirmed. */
function sendToSink(socket: net.Socket, maxBytes: number, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let sentBytes = 0;
    let reply = '';
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      reply += text;
    });
    socket.once('end', () => {
      const confirmed = Number(reply.trim());
      if (confirmed === sentBytes) resolve(confirmed);
      else
        reject(
          new Error(`sent ${String(sentBytes)} bytes but the sink received ${reply.trim() || 'nothing'}`),
        );
    });
    socket.once('error', reject);
    // A write/drain loop rather than a Readable pipe: no stream machinery of its own to measure.
    const pump = (): void => {
      while (sentBytes < maxBytes && performance.now() < deadline) {
        const chunk = maxBytes - sentBytes >= CHUNK.length ? CHUNK : CHUNK.subarray(0, maxBytes - sentBytes);
        sentBytes += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    socket.resume();
    pump();
  });
}

export interface RequestResponseOptions {
  readonly connections: number;
  readonly messageBytes: number;
  /** Every connection runs this long before anything is recorded: JIT, windows and pools settle. */
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface RequestResponseResult {
  readonly requests: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly requestsPerSecond: number;
}

/** Shared by the loops of one measurement: which phase it is in, and every recorded latency. */
interface RoundTripClock {
  recording: boolean;
  stopped: boolean;
  windowStart: number;
  windowEnd: number;
  count: number;
  readonly samplesUs: Float64Array;
}

/**
 * Request/response latency: `connections` connections to the echo server, each with one request of
 * `messageBytes` in flight (a closed loop): write it, wait for the whole echo, write the next. After
 * the warm-up, every round trip that starts and ends within the measured window is recorded, from
 * the write to the last byte of its response. Connections are opened before the clock starts.
 */
export async function measureRequestResponse(
  dial: Dialer,
  echoPort: number,
  options: RequestResponseOptions,
): Promise<RequestResponseResult> {
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    for (let i = 0; i < options.connections; i++) sockets.push(await dialWithin(dial, echoPort));
    const clock: RoundTripClock = {
      recording: false,
      stopped: false,
      windowStart: 0,
      windowEnd: 0,
      count: 0,
      samplesUs: new Float64Array(MAX_SAMPLES),
    };
    const request = Buffer.alloc(options.messageBytes, 0x62);
    const loops = Promise.all(sockets.map((socket) => roundTripLoop(socket, request, clock)));
    timers.push(
      setTimeout(() => {
        clock.recording = true;
        clock.windowStart = performance.now();
      }, options.warmupMs),
      setTimeout(() => {
        clock.recording = false;
        clock.stopped = true;
        clock.windowEnd = performance.now();
      }, options.warmupMs + options.durationMs),
    );
    await Promise.race([
      loops,
      timeout(options.warmupMs + options.durationMs + GRACE_MS, 'request/response loops did not finish'),
    ]);
    const samples = clock.samplesUs.subarray(0, clock.count);
    // Typed arrays sort numerically.
    samples.sort();
    return {
      requests: samples.length,
      p50Us: percentile(samples, 50),
      p90Us: percentile(samples, 90),
      p99Us: percentile(samples, 99),
      requestsPerSecond: samples.length / ((clock.windowEnd - clock.windowStart) / 1000),
    };
  } finally {
    for (const timer of timers) clearTimeout(timer);
    for (const socket of sockets) socket.destroy();
  }
}

function roundTripLoop(socket: net.Socket, request: Buffer, clock: RoundTripClock): Promise<void> {
  return new Promise((resolve, reject) => {
    let awaitingBytes = 0;
    let sentAt = 0;
    const send = (): void => {
      awaitingBytes = request.length;
      sentAt = performance.now();
      socket.write(request);
    };
    socket.on('data', (chunk: Buffer) => {
      awaitingBytes -= chunk.length;
      if (awaitingBytes > 0) return;
      if (awaitingBytes < 0) {
        reject(new Error('the echo sent more than was asked'));
        return;
      }
      if (clock.recording && sentAt >= clock.windowStart && clock.count < clock.samplesUs.length) {
        clock.samplesUs[clock.count++] = (performance.now() - sentAt) * 1000;
      }
      if (clock.stopped) resolve();
      else send();
    });
    socket.once('end', () => {
      reject(new Error('the echo server closed the connection'));
    });
    socket.once('error', reject);
    socket.resume();
    send();
  });
}

export interface NewConnectionsOptions {
  /** Connections being opened at any one time. */
  readonly concurrency: number;
  /** What the short server expects before it answers and closes. */
  readonly messageBytes: number;
  readonly durationMs: number;
}

export interface NewConnectionsResult {
  readonly perSecond: number;
  readonly completed: number;
  readonly failed: number;
  readonly firstError: string | undefined;
}

/**
 * New connections per second: `concurrency` loops, each opening a connection through the path to
 * the short server, sending one message, reading the whole answer until the server closes, closing
 * too, and starting over. Everything a short connection costs is inside: for our pair that includes
 * the SOCKS5 handshake and the CONNECT stream on the pooled HBONE session; for the peers, a TLS
 * handshake.
 */
export async function measureNewConnections(
  dial: Dialer,
  shortPort: number,
  options: NewConnectionsOptions,
): Promise<NewConnectionsResult> {
  const message = Buffer.alloc(options.messageBytes, 0x63);
  const start = performance.now();
  const deadline = start + options.durationMs;
  let completed = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && completed + failed < MAX_NEW_CONNECTIONS) {
      try {
        await Promise.race([
          dialWithin(dial, shortPort).then((socket) => shortExchange(socket, message)),
          timeout(DIAL_TIMEOUT_MS, 'a short connection did not finish'),
        ]);
        completed++;
      } catch (err) {
        failed++;
        firstError ??= errorText(err);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  return { perSecond: completed / seconds, completed, failed, firstError };
}

/** Writes `message` and resolves once the whole answer and the server's FIN arrived (then closes too). */
function shortExchange(socket: net.Socket, message: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.once('end', () => {
      socket.destroy();
      if (received === message.length) resolve();
      else reject(new Error(`echo returned ${String(received)} of ${String(message.length)} bytes`));
    });
    socket.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
    socket.resume();
    socket.write(message);
  });
}

/**
 * Opens `count` connections through the path and proves each one reaches the echo server (one byte
 * there and back), then leaves them idle and open. The caller destroys them.
 */
export async function openIdleConnections(
  dial: Dialer,
  echoPort: number,
  count: number,
  concurrency: number,
): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const socket = await dialWithin(dial, echoPort);
      sockets.push(socket);
      await Promise.race([oneByteEcho(socket), timeout(DIAL_TIMEOUT_MS, 'an idle connection did not echo')]);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } catch (err) {
    for (const socket of sockets) socket.destroy();
    throw err;
  }
  return sockets;
}

function oneByteEcho(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('data', () => {
      socket.pause();
      socket.off('error', reject);
      // A late error on an idle connection must not crash the bench; the holder destroys it.
      socket.on('error', () => undefined);
      resolve();
    });
    socket.once('error', reject);
    socket.resume();
    socket.write('i');
  });
}
