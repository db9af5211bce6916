import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { ErrorCode, MeshError, errorMessage, formatSocketAddress, type Logger } from '@ambient/core';
import { clientTlsOptions, type CertificateProvider } from '@ambient/identity';
import {
  clientHttp2Settings,
  CONNECTION_WINDOW_BYTES,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_POOL_IDLE_TIMEOUT_MS,
  DEFAULT_POOL_MAX_STREAMS,
} from './settings.js';

/**
 * Makes the TCP connection an HBONE session runs over when the host's own network is the wrong
 * place to dial from, e.g. inside the source pod's network namespace (in-pod mode). TLS and
 * HTTP/2 then run over the socket it returns.
 */
export interface HboneDialer {
  /** Part of the pool key: sessions made by different dialers are never shared. */
  readonly name: string;
  /**
   * A connected socket to the peer; rejects (ideally with a MeshError) when it cannot connect.
   * Not half-open: a FIN from the peer must end the session, not leave it open forever.
   */
  connect(ip: string, port: number): Promise<Socket>;
}

/** What makes two tunnels shareable: same client certificate, same peer expectations, same path. */
export interface PoolKey {
  /** SPIFFE URI of the identity we present. */
  readonly sourceIdentity: string;
  /** SPIFFE URIs the peer may present; any one will do. */
  readonly expectedIdentities: readonly string[];
  /** The peer's HBONE address, `podIP:15008` or a waypoint's. */
  readonly destinationIp: string;
  readonly destinationPort: number;
  /** Local address to dial from (the source pod's IP), so the peer sees the real source. */
  readonly sourceIp?: string | undefined;
  /** Dial through this instead of from the host (then `sourceIp` is the dialer's business). */
  readonly dialer?: HboneDialer | undefined;
}

export interface ConnectRequest {
  /** `ip:port` of the final target (or `hostname:port`). */
  readonly authority: string;
  /** Extra request headers: baggage, forwarded, traceparent. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface HbonePoolOptions {
  readonly certificates: CertificateProvider;
  readonly logger: Logger;
  readonly maxStreamsPerConnection?: number;
  readonly idleTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
}

export interface PoolStats {
  /** Live pooled sessions (open, not draining). */
  readonly sessions: number;
  /** Streams currently open across every session, draining ones included. */
  readonly activeStreams: number;
  /** Sessions dialled since the pool was made. */
  readonly sessionsOpened: number;
}

/** Rounds of find-or-dial before a checkout gives up. */
const MAX_CHECKOUT_ROUNDS = 4;

/** One pooled HTTP/2 connection to a peer. */
class PooledSession {
  activeStreams = 0;
  lastUsedMs = Date.now();
  /** Set on GOAWAY, error or eviction: no new streams go here; open ones finish. */
  retired = false;
  pingSentAtMs: number | undefined = undefined;

  constructor(
    readonly keyText: string,
    readonly session: ClientHttp2Session,
    readonly streamLimit: number,
    readonly dialerName: string | undefined,
  ) {}

  /** Streams this session may still take: our limit, lowered by the peer's SETTINGS. */
  hasCapacity(): boolean {
    if (this.retired || this.session.closed || this.session.destroyed) return false;
    const peerLimit = this.session.remoteSettings.maxConcurrentStreams ?? this.streamLimit;
    return this.activeStreams < Math.min(this.streamLimit, peerLimit);
  }
}

/**
 * The outbound HBONE connection pool: one mutual-TLS HTTP/2 session per key, many CONNECT
 * streams on it. Concurrent requests for a key that has no session yet wait for one dial
 * instead of each opening its own; a full session makes the next request open another;
 * GOAWAY or an error retires a session (its open streams finish) and the next request dials
 * anew. One coarse timer sends keepalive PINGs and evicts sessions left idle.
 */
export class HbonePool {
  private readonly sessions = new Map<string, PooledSession[]>();
  private readonly dials = new Map<string, Promise<PooledSession>>();
  private readonly maxStreams: number;
  private readonly idleTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly pingTimeoutMs: number;
  private readonly timer: NodeJS.Timeout;
  private opened = 0;
  private closed = false;

  constructor(private readonly options: HbonePoolOptions) {
    this.maxStreams = options.maxStreamsPerConnection ?? DEFAULT_POOL_MAX_STREAMS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_POOL_IDLE_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.pingTimeoutMs = options.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    const tickMs = Math.min(options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS, this.idleTimeoutMs);
    this.timer = setInterval(this.tick, tickMs);
    this.timer.unref();
  }

  /**
   * Opens a CONNECT stream to `request.authority` through a pooled session for `key`. Resolves
   * once the peer answered 200; rejects with a MeshError otherwise (the stream is then gone).
   */
  async connect(key: PoolKey, request: ConnectRequest): Promise<ClientHttp2Stream> {
    if (this.closed) throw new MeshError(ErrorCode.Draining, 'HBONE pool is closed');
    const pooled = await this.checkout(key);
    return this.request(pooled, request);
  }

  stats(): PoolStats {
    let sessions = 0;
    let activeStreams = 0;
    for (const list of this.sessions.values()) {
      for (const pooled of list) {
        if (!pooled.retired) sessions++;
        activeStreams += pooled.activeStreams;
      }
    }
    return { sessions, activeStreams, sessionsOpened: this.opened };
  }

  /** Graceful: GOAWAY every session, let open streams finish. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const list of this.sessions.values()) for (const pooled of list) this.retire(pooled, 'pool closed');
  }

  /** Forced: tear down every session and stream now. */
  destroy(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const list of this.sessions.values()) for (const pooled of list) pooled.session.destroy();
    this.sessions.clear();
  }

  /** Retire every session made with `sourceIdentity` (its certificate changed): new streams dial anew. */
  retireIdentity(sourceIdentity: string): void {
    const prefix = `${sourceIdentity}|`;
    for (const [keyText, list] of this.sessions) {
      if (keyText.startsWith(prefix)) for (const pooled of list) this.retire(pooled, 'certificate rotated');
    }
  }

  /** Retire every session made through the dialer `name` (its network namespace is going away). */
  retireDialer(name: string): void {
    for (const list of this.sessions.values()) {
      for (const pooled of [...list]) if (pooled.dialerName === name) this.retire(pooled, 'dialer retired');
    }
  }

  private async checkout(key: PoolKey): Promise<PooledSession> {
    const keyText = poolKeyText(key);
    // A session that is full or dies before we get a stream sends us round again; a peer that
    // keeps doing that is broken, so the rounds are bounded.
    for (let round = 0; round < MAX_CHECKOUT_ROUNDS; round++) {
      const ready = this.sessions.get(keyText)?.find((pooled) => pooled.hasCapacity());
      if (ready) {
        ready.activeStreams++;
        ready.lastUsedMs = Date.now();
        return ready;
      }
      // Everyone who finds no room waits for the same dial; if it fails, they all fail with it
      // rather than each dialling a dead peer in turn.
      await (this.dials.get(keyText) ?? this.startDial(key, keyText));
      if (this.closed) throw new MeshError(ErrorCode.Draining, 'HBONE pool is closed');
    }
    throw new MeshError(ErrorCode.HboneStreamFailed, `no usable HBONE session to ${keyText}`);
  }

  private startDial(key: PoolKey, keyText: string): Promise<PooledSession> {
    const dial = this.dial(key, keyText).finally(() => {
      if (this.dials.get(keyText) === dial) this.dials.delete(keyText);
    });
    this.dials.set(keyText, dial);
    return dial;
  }

  private async dial(key: PoolKey, keyText: string): Promise<PooledSession> {
    const certificate = this.options.certificates.certificateFor(key.sourceIdentity);
    if (!certificate) {
      throw new MeshError(ErrorCode.CertMissing, `no certificate for ${key.sourceIdentity}`);
    }
    const target = formatSocketAddress(key.destinationIp, key.destinationPort);
    const tlsOptions = clientTlsOptions(certificate, key.expectedIdentities);
    const socket =
      key.dialer === undefined
        ? await connectTls(
            {
              ...tlsOptions,
              host: key.destinationIp,
              port: key.destinationPort,
              ...(key.sourceIp === undefined ? {} : { localAddress: key.sourceIp }),
            },
            this.connectTimeoutMs,
            target,
          )
        : await connectTls(
            { ...tlsOptions, socket: await dialWith(key.dialer, key.destinationIp, key.destinationPort) },
            this.connectTimeoutMs,
            target,
          );
    const session = http2.connect(`https://${formatSocketAddress(key.destinationIp, key.destinationPort)}`, {
      createConnection: () => socket,
      settings: { ...clientHttp2Settings, maxConcurrentStreams: this.maxStreams },
      peerMaxConcurrentStreams: this.maxStreams,
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new MeshError(ErrorCode.HboneStreamFailed, `HTTP/2 handshake failed: ${err.message}`));
      };
      session.once('error', onError);
      session.once('remoteSettings', () => {
        session.off('error', onError);
        resolve();
      });
    });
    session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    const pooled = new PooledSession(keyText, session, this.maxStreams, key.dialer?.name);
    this.opened++;
    session.on('goaway', () => {
      this.retire(pooled, 'goaway received');
    });
    session.on('error', (err: Error) => {
      this.options.logger.debug({ err: err.message, key: keyText }, 'pooled HBONE session failed');
      this.retire(pooled, 'session error');
    });
    session.on('close', () => {
      pooled.retired = true;
      this.remove(pooled);
    });
    let list = this.sessions.get(keyText);
    if (!list) {
      list = [];
      this.sessions.set(keyText, list);
    }
    list.push(pooled);
    return pooled;
  }

  private request(pooled: PooledSession, request: ConnectRequest): Promise<ClientHttp2Stream> {
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = pooled.session.request(
          { ':method': 'CONNECT', ':authority': request.authority, ...request.headers },
          { endStream: false },
        );
      } catch (err) {
        this.release(pooled);
        reject(new MeshError(ErrorCode.HboneStreamFailed, `CONNECT failed: ${errorMessage(err)}`));
        return;
      }
      stream.once('close', () => {
        this.release(pooled);
      });
      const onError = (err: Error): void => {
        reject(new MeshError(ErrorCode.HboneStreamFailed, `CONNECT stream failed: ${err.message}`));
      };
      stream.once('error', onError);
      stream.once('response', (headers) => {
        stream.off('error', onError);
        const status = headers[':status'];
        if (status === 200) {
          resolve(stream);
          return;
        }
        stream.destroy();
        reject(
          new MeshError(
            ErrorCode.HboneRejected,
            `HBONE peer answered CONNECT ${request.authority} with status ${String(status)}`,
          ),
        );
      });
    });
  }

  private release(pooled: PooledSession): void {
    pooled.activeStreams--;
    pooled.lastUsedMs = Date.now();
    if (pooled.retired && pooled.activeStreams === 0 && !pooled.session.closed) pooled.session.close();
  }

  private retire(pooled: PooledSession, why: string): void {
    if (pooled.retired) return;
    pooled.retired = true;
    this.options.logger.debug({ key: pooled.keyText, why }, 'retiring pooled HBONE session');
    this.remove(pooled);
    // close() lets open streams finish, then ends the connection.
    if (!pooled.session.closed && !pooled.session.destroyed) pooled.session.close();
  }

  private remove(pooled: PooledSession): void {
    const list = this.sessions.get(pooled.keyText);
    if (!list) return;
    const index = list.indexOf(pooled);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.sessions.delete(pooled.keyText);
  }

  /** One coarse timer for the whole pool: keepalive PINGs, dead-peer detection, idle eviction. */
  private readonly tick = (): void => {
    const now = Date.now();
    for (const list of [...this.sessions.values()]) {
      for (const pooled of [...list]) {
        if (pooled.pingSentAtMs !== undefined && now - pooled.pingSentAtMs > this.pingTimeoutMs) {
          this.options.logger.warn({ key: pooled.keyText }, 'HBONE peer did not answer PING; closing');
          pooled.session.destroy();
          continue;
        }
        if (pooled.activeStreams === 0 && now - pooled.lastUsedMs >= this.idleTimeoutMs) {
          this.retire(pooled, 'idle');
          continue;
        }
        if (pooled.pingSentAtMs === undefined) this.ping(pooled, now);
      }
    }
  };

  private ping(pooled: PooledSession, now: number): void {
    pooled.pingSentAtMs = now;
    try {
      pooled.session.ping((err) => {
        if (!err) pooled.pingSentAtMs = undefined;
      });
    } catch {
      // The session is closing; the close handler removes it.
    }
  }
}

export function poolKeyText(key: PoolKey): string {
  const text = `${key.sourceIdentity}|${[...key.expectedIdentities].sort().join(',')}|${formatSocketAddress(
    key.destinationIp,
    key.destinationPort,
  )}|${key.sourceIp ?? ''}`;
  return key.dialer === undefined ? text : `${text}|via ${key.dialer.name}`;
}

/** The dialer's socket, its failures classified like the pool's own connects. */
async function dialWith(dialer: HboneDialer, ip: string, port: number): Promise<Socket> {
  try {
    return await dialer.connect(ip, port);
  } catch (err) {
    if (err instanceof MeshError) throw err;
    throw new MeshError(
      ErrorCode.ConnectFailed,
      `connect to ${formatSocketAddress(ip, port)} failed: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}

/**
 * TCP + TLS to a peer, with a connect timeout and errors classified for telemetry. With
 * `options.socket` (already connected), only the handshake runs.
 */
export function connectTls(
  options: tls.ConnectionOptions,
  timeoutMs: number,
  target: string,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // HTTP/2 half-closes per stream (END_STREAM), so the TLS socket itself needs no half-open mode.
    const socket = tls.connect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new MeshError(
          ErrorCode.ConnectTimeout,
          `connection to ${target} timed out, maybe a NetworkPolicy is blocking HBONE port 15008`,
        ),
      );
    }, timeoutMs);
    timer.unref();
    // A socket handed in is connected already (its dialer set its options); only TLS can fail now.
    let connected = options.socket !== undefined;
    socket.once('connect', () => {
      connected = true;
      socket.setNoDelay(true);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      if (socket.alpnProtocol !== 'h2') {
        socket.destroy();
        reject(new MeshError(ErrorCode.TlsFailure, `${target} did not negotiate ALPN h2`));
        return;
      }
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      if (!connected) {
        reject(
          new MeshError(ErrorCode.ConnectFailed, `connect to ${target} failed: ${err.message}`, {
            cause: err,
          }),
        );
      } else if (err.message.includes('expected SAN')) {
        reject(new MeshError(ErrorCode.IdentityMismatch, `${target}: ${err.message}`, { cause: err }));
      } else {
        reject(
          new MeshError(ErrorCode.TlsFailure, `TLS handshake with ${target} failed: ${err.message}`, {
            cause: err,
          }),
        );
      }
    });
  });
}
