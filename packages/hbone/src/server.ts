import http2, {
  constants,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Server } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ErrorCode, MeshError, errorMessage, listenOn, normalizeIp, type Logger } from '@ambient/core';
import {
  serverTlsOptions,
  verifyClientIdentity,
  type Identity,
  type WorkloadCertificate,
} from '@ambient/identity';
import {
  CONNECTION_WINDOW_BYTES,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_TIMEOUT_MS,
  serverHttp2Settings,
} from './settings.js';

/** One CONNECT (or not) request that arrived on an authenticated HBONE connection. */
export interface InboundStream {
  readonly stream: ServerHttp2Stream;
  readonly headers: IncomingHttpHeaders;
  readonly method: string;
  readonly authority: string;
  /** Proven by the client certificate; never taken from headers. */
  readonly peerIdentity: Identity;
  readonly peerIdentityUri: string;
  /** Where the connection arrived (the pod IP and 15008). */
  readonly localIp: string;
  readonly localPort: number;
  readonly remoteIp: string;
  readonly remotePort: number;
}

interface HboneServerCommonOptions {
  readonly certificate: WorkloadCertificate;
  readonly logger: Logger;
  readonly onStream: (request: InboundStream) => void;
  /** A TLS handshake or client identity check failed (for telemetry). */
  readonly onHandshakeFailure?: (error: MeshError, remoteAddress: string | undefined) => void;
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
}

/**
 * Where the server listens: `host:port` on this host's network, or wherever `bind` makes the
 * server listen (e.g. on a socket made inside a pod's network namespace, see @ambient/redirect's
 * listenInNetns). `bind` resolves once the server listens and rejects when it cannot.
 */
export type HboneServerOptions = HboneServerCommonOptions &
  ({ readonly host: string; readonly port: number } | { readonly bind: (server: Server) => Promise<void> });

interface SessionState {
  readonly identity: Identity;
  readonly identityUri: string;
  pingSentAtMs: number | undefined;
}

/**
 * The inbound HBONE listener of one workload: TLS 1.3 with a required client certificate from
 * our trust domain, HTTP/2 with ztunnel's settings, and each stream handed to `onStream`, which
 * decides and answers. The server presents the certificate of the workload it listens for, as
 * a pod's own 15008 listener does in-pod.
 */
export class HboneServer {
  private readonly server: http2.Http2SecureServer;
  private readonly sessions = new Map<ServerHttp2Session, SessionState>();
  private readonly timer: NodeJS.Timeout;
  private readonly pingTimeoutMs: number;
  private trustDomain: string;

  private constructor(private readonly options: HboneServerOptions) {
    this.trustDomain = options.certificate.identity.trustDomain;
    this.pingTimeoutMs = options.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    this.server = http2.createSecureServer({
      ...serverTlsOptions(options.certificate),
      settings: serverHttp2Settings,
      allowHTTP1: false,
    });
    this.server.on('session', this.onSession);
    this.server.on('stream', this.onStream);
    this.server.on('tlsClientError', this.onTlsClientError);
    this.timer = setInterval(this.tick, options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS);
    this.timer.unref();
  }

  /** Binds the listener; a taken port or missing address fails with a clear MeshError. */
  static async listen(options: HboneServerOptions): Promise<HboneServer> {
    const hbone = new HboneServer(options);
    try {
      if ('bind' in options) await options.bind(hbone.server);
      else await listenOn(hbone.server, options.host, options.port, 'HBONE');
    } catch (err) {
      hbone.destroy();
      throw err;
    }
    return hbone;
  }

  get port(): number {
    const address = this.server.address();
    if (typeof address === 'object' && address !== null) return address.port;
    return 'port' in this.options ? this.options.port : 0;
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /** New connections use the new certificate at once; open ones keep theirs. */
  setCertificate(certificate: WorkloadCertificate): void {
    this.trustDomain = certificate.identity.trustDomain;
    this.server.setSecureContext(serverTlsOptions(certificate));
  }

  /** Stop accepting; send GOAWAY so clients open no new streams; open streams carry on. */
  drain(): void {
    this.server.close();
    for (const session of this.sessions.keys()) {
      if (!session.closed && !session.destroyed) session.close();
    }
  }

  /** Resolves once every session has closed. */
  async closed(): Promise<void> {
    await Promise.all(
      [...this.sessions.keys()].map(
        (session) =>
          new Promise<void>((resolve) => {
            if (session.destroyed) resolve();
            else session.once('close', resolve);
          }),
      ),
    );
  }

  /** Tear everything down now. */
  destroy(): void {
    clearInterval(this.timer);
    this.server.close();
    for (const session of this.sessions.keys()) session.destroy();
  }

  private readonly onSession = (session: ServerHttp2Session): void => {
    const socket = session.socket as TLSSocket;
    let identity: Identity;
    try {
      identity = verifyClientIdentity(socket, this.trustDomain);
    } catch (err) {
      const error =
        err instanceof MeshError ? err : new MeshError(ErrorCode.IdentityMismatch, errorMessage(err));
      this.options.logger.warn(
        { src: socket.remoteAddress, error: error.message },
        'rejected HBONE connection: client identity',
      );
      this.options.onHandshakeFailure?.(error, socket.remoteAddress);
      session.destroy();
      return;
    }
    session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    this.sessions.set(session, {
      identity,
      identityUri: `spiffe://${identity.trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`,
      pingSentAtMs: undefined,
    });
    session.on('close', () => this.sessions.delete(session));
    session.on('error', (err: Error) => {
      this.options.logger.debug({ error: err.message }, 'HBONE session error');
    });
  };

  private readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    const state = this.sessions.get(stream.session as ServerHttp2Session);
    if (!state) {
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const socket = (stream.session as ServerHttp2Session).socket;
    // An unguarded throw here would take down every tunnel on the node.
    try {
      this.options.onStream({
        stream,
        headers,
        method: headerText(headers[':method']),
        authority: headerText(headers[':authority']),
        peerIdentity: state.identity,
        peerIdentityUri: state.identityUri,
        localIp: normalizeIp(socket.localAddress ?? ''),
        localPort: socket.localPort ?? 0,
        remoteIp: normalizeIp(socket.remoteAddress ?? ''),
        remotePort: socket.remotePort ?? 0,
      });
    } catch (err) {
      this.options.logger.error({ error: errorMessage(err) }, 'HBONE stream handler failed');
      if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    }
  };

  private readonly onTlsClientError = (err: Error, socket: TLSSocket): void => {
    // A refused client chain surfaces as a bare "socket hang up"; the reason is on the socket.
    // (Node types it as always present; it is not when verification never ran.)
    const refused: unknown = socket.authorizationError;
    const reason = refused instanceof Error ? refused.message : err.message;
    const error = new MeshError(ErrorCode.TlsFailure, `TLS handshake failed: ${reason}`, { cause: err });
    this.options.logger.warn({ src: socket.remoteAddress, error: reason }, 'HBONE TLS handshake failed');
    this.options.onHandshakeFailure?.(error, socket.remoteAddress);
  };

  private readonly tick = (): void => {
    const now = Date.now();
    for (const [session, state] of this.sessions) {
      if (state.pingSentAtMs !== undefined) {
        if (now - state.pingSentAtMs > this.pingTimeoutMs) {
          this.options.logger.warn({ peer: state.identityUri }, 'HBONE client did not answer PING; closing');
          session.destroy();
        }
        continue;
      }
      state.pingSentAtMs = now;
      try {
        session.ping((err) => {
          if (!err) state.pingSentAtMs = undefined;
        });
      } catch {
        // Closing already.
      }
    }
  };
}

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

/** Answer a stream with an error status and end it: ztunnel ends error responses at once. */
export function rejectStream(stream: ServerHttp2Stream, status: number, message?: string): void {
  if (stream.destroyed || stream.closed) return;
  try {
    if (!stream.headersSent) stream.respond({ ':status': status }, { endStream: message === undefined });
    if (message !== undefined) stream.end(message);
  } catch {
    stream.destroy();
  }
}
