import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { socks5Connect } from '@ambient/testing';
import { percentile } from './stats.js';
import { timeout } from './timeout.js';
import { CLIENT_IP, NODE_A_IP, SERVER_IP, SOCKS5_PORT } from './topology.js';

/** Opens a connection to the app's `port` on SERVER_IP; resolves with a paused socket. */
export type Dialer = (port: number) => Promise<net.Socket>;

/** Path A: the client dials the app directly, plain TCP on loopback. */
export const directDialer: Dialer = (port) =>
  new Promise((resolve, reject) => {
    const socket = net.connect({
      host: SERVER_IP,
      port,
      localAddress: CLIENT_IP,
      allowHalfOpen: true,
      noDelay: true,
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });

/** Path B: SOCKS5 into node-a's ztunnel as the client workload; it carries the bytes over HBONE to node-b's. */
export const ztunnelPairDialer: Dialer = (port) =>
  socks5Connect({
    proxyIp: NODE_A_IP,
    proxyPort: SOCKS5_PORT,
    sourceIp: CLIENT_IP,
    targetHost: SERVER_IP,
    targetPort: port,
  });

// 64 KiB: the size of a loopback socket read, so neither path pays for odd chunking.
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
// A dial that takes longer has hung: loopback connects and a pooled CONNECT take milliseconds.
const DIAL_TIMEOUT_MS = 10_000;
// Past the sending deadline, how long the sink may take to report: buffered bytes still drain.
const REPLY_GRACE_MS = 30_000;

function dialWithin(dial: Dialer, port: number): Promise<net.Socket> {
  return Promise.race([
    dial(port),
    timeout(DIAL_TIMEOUT_MS, `dial to port ${String(port)} did not complete`),
  ]);
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
      timeout(options.timeLimitMs + REPLY_GRACE_MS, 'bulk transfer did not finish'),
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

export interface RoundTripOptions {
  readonly requestBytes: number;
  /** Round trips on the same connection before measuring: JIT, windows and pools settle. */
  readonly warmupRoundTrips: number;
  readonly roundTrips: number;
  /** The measured part stops at this bound even if fewer round trips were made. */
  readonly timeLimitMs: number;
}

export interface RoundTripResult {
  readonly roundTrips: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly requestsPerSecond: number;
}

/**
 * Request/response latency: one connection to the echo server, one request in flight; each
 * round trip is timed from the write to the last byte of the same-sized response.
 */
export async function measureRoundTrips(
  dial: Dialer,
  echoPort: number,
  options: RoundTripOptions,
): Promise<RoundTripResult> {
  const socket = await dialWithin(dial, echoPort);
  try {
    const { samplesUs, seconds } = await Promise.race([
      runRoundTrips(socket, options),
      timeout(options.timeLimitMs + REPLY_GRACE_MS, 'round trips did not finish'),
    ]);
    // Typed arrays sort numerically.
    samplesUs.sort();
    return {
      roundTrips: samplesUs.length,
      p50Us: percentile(samplesUs, 50),
      p90Us: percentile(samplesUs, 90),
      p99Us: percentile(samplesUs, 99),
      requestsPerSecond: samplesUs.length / seconds,
    };
  } finally {
    socket.destroy();
  }
}

/** Resolves with each measured round trip in µs and the wall time of the measured part. */
function runRoundTrips(
  socket: net.Socket,
  options: RoundTripOptions,
): Promise<{ samplesUs: Float64Array; seconds: number }> {
  return new Promise((resolve, reject) => {
    const request = Buffer.alloc(options.requestBytes, 0x62);
    const samplesUs = new Float64Array(options.roundTrips);
    let measured = 0;
    let completed = 0;
    let awaitingBytes = 0;
    let sentAtNs = 0n;
    let measureStartNs = 0n;
    let deadline = Number.POSITIVE_INFINITY;
    const startMeasuring = (): void => {
      measureStartNs = process.hrtime.bigint();
      deadline = performance.now() + options.timeLimitMs;
    };
    const send = (): void => {
      awaitingBytes = request.length;
      sentAtNs = process.hrtime.bigint();
      socket.write(request);
    };
    socket.on('data', (chunk: Buffer) => {
      awaitingBytes -= chunk.length;
      if (awaitingBytes > 0) return;
      if (awaitingBytes < 0) {
        reject(new Error('the echo sent more than was asked'));
        return;
      }
      const nowNs = process.hrtime.bigint();
      completed++;
      if (completed > options.warmupRoundTrips) samplesUs[measured++] = Number(nowNs - sentAtNs) / 1000;
      else if (completed === options.warmupRoundTrips) startMeasuring();
      if (measured < options.roundTrips && performance.now() < deadline) {
        send();
        return;
      }
      resolve({ samplesUs: samplesUs.subarray(0, measured), seconds: Number(nowNs - measureStartNs) / 1e9 });
    });
    socket.once('end', () => {
      reject(new Error('the echo server closed the connection'));
    });
    socket.once('error', reject);
    socket.resume();
    if (options.warmupRoundTrips === 0) startMeasuring();
    send();
  });
}
