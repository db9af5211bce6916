import { status, type Metadata, type Server, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { errorMessage, type Logger } from '@ambient/core';
import type { discovery } from '@ambient/protos';
import { XdsServerMetrics } from './metrics.js';
import { XdsServerStream, type XdsConnectionStatus } from './server-stream.js';
import { DELTA_ADS_SERVICE, type ServerDeltaStream } from './service-definition.js';
import type { VersionedResource } from './subscription.js';
import { metricType } from './type-urls.js';
import { resourceVersion } from './versions.js';

export type XdsAuthentication =
  { readonly ok: true; readonly nodeId?: string } | { readonly ok: false; readonly message: string };

/** Decides whether a stream may subscribe at all, from its request metadata and peer address. */
export type XdsAuthenticator = (metadata: Metadata, peer: string) => Promise<XdsAuthentication>;

export interface DeltaXdsServerOptions {
  readonly logger: Logger;
  /** Checked once per stream before any request is read; a refusal ends it UNAUTHENTICATED. */
  readonly authenticate?: XdsAuthenticator;
  /** Where pilot_xds and pilot_xds_pushes go; none when absent. */
  readonly registry?: Registry;
}

/** Per gRPC server that serves xDS. */
export interface XdsListenerOptions {
  /** Whether the authenticate hook applies to this server's streams; default true. */
  readonly authenticate?: boolean;
}

interface TypeResources {
  readonly resources: ReadonlyMap<string, VersionedResource>;
  /** Bumped on every change; sent as system_version_info for debugging. */
  readonly generation: number;
}

const NO_RESOURCES: ReadonlyMap<string, VersionedResource> = new Map();

/**
 * The control plane's side of Delta ADS, generic over type URLs: the owner hands it the complete
 * current set of each type as encoded bytes, and every subscribed stream is sent only what
 * changed for it. Register it on any number of grpc-js servers (TLS 15012, plaintext 15010).
 */
export class DeltaXdsServer {
  private readonly logger: Logger;
  private readonly metrics: XdsServerMetrics | undefined;
  private readonly types = new Map<string, TypeResources>();
  private readonly streams = new Map<number, XdsServerStream>();
  private nextStreamId = 1;
  private closed = false;

  constructor(private readonly options: DeltaXdsServerOptions) {
    this.logger = options.logger;
    this.metrics = options.registry === undefined ? undefined : new XdsServerMetrics(options.registry);
  }

  /**
   * Serves DeltaAggregatedResources on `server` (which the caller binds, starts and shuts down).
   * `authenticate: false` skips the authenticate hook for this server's streams: istiod's
   * plaintext 15010, reachable only from where the control plane trusts every caller.
   */
  addTo(server: Server, options: XdsListenerOptions = {}): void {
    const authenticate = options.authenticate ?? true;
    const implementation: UntypedServiceImplementation = {
      deltaAggregatedResources: (call: ServerDeltaStream) => {
        this.accept(call, authenticate);
      },
    };
    server.addService(DELTA_ADS_SERVICE, implementation);
  }

  /**
   * The complete current set of `typeUrl` (name → encoded resource); streams get the difference.
   * Until a type's first set, its subscribers are not answered at all (an empty answer would
   * make a reconnecting client drop what it holds): set every served type, even to an empty map,
   * before clients are expected to become ready. The arrays are kept and sent as they are: do not
   * modify them afterwards.
   */
  setResources(typeUrl: string, resources: ReadonlyMap<string, Uint8Array>): void {
    const previous = this.types.get(typeUrl);
    const before = previous?.resources ?? NO_RESOURCES;
    const next = new Map<string, VersionedResource>();
    const changed: string[] = [];
    for (const [name, bytes] of resources) {
      const version = resourceVersion(bytes);
      next.set(name, { version, bytes });
      if (before.get(name)?.version !== version) changed.push(name);
    }
    for (const name of before.keys()) if (!next.has(name)) changed.push(name);
    // The first set of a type is news even when empty: streams waiting for it get their answer.
    if (previous !== undefined && changed.length === 0) return;
    this.types.set(typeUrl, { resources: next, generation: (previous?.generation ?? 0) + 1 });
    for (const stream of this.streams.values()) {
      try {
        stream.push(typeUrl, changed);
      } catch (err) {
        this.failStream(stream, err);
      }
    }
  }

  /** Every connected stream, oldest first. */
  connections(): readonly XdsConnectionStatus[] {
    return [...this.streams.values()].map((stream) => stream.status());
  }

  /** Ends every stream with OK so that clients reconnect elsewhere; later streams are refused. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of [...this.streams.values()]) {
      stream.end();
      this.forget(stream);
    }
  }

  private accept(call: ServerDeltaStream, checkCaller: boolean): void {
    if (this.closed) {
      call.emit('error', { code: status.UNAVAILABLE, details: 'the xDS server is shutting down' });
      return;
    }
    const peer = call.getPeer();
    const authenticate = checkCaller ? this.options.authenticate : undefined;
    if (authenticate === undefined) {
      this.admit(call, undefined);
      return;
    }
    // Requests wait unread (no 'data' listener yet) until the caller is known.
    let gone = false;
    const markGone = (): void => {
      gone = true;
    };
    call.once('cancelled', markGone);
    call.once('error', markGone);
    authenticate(call.metadata, peer).then(
      (result) => {
        call.off('cancelled', markGone);
        call.off('error', markGone);
        if (gone) return;
        if (this.closed) {
          call.emit('error', { code: status.UNAVAILABLE, details: 'the xDS server is shutting down' });
        } else if (result.ok) {
          this.admit(call, result.nodeId);
        } else {
          this.logger.warn({ peer, reason: result.message }, 'xDS stream refused: not authenticated');
          call.emit('error', { code: status.UNAUTHENTICATED, details: result.message });
        }
      },
      (err: unknown) => {
        if (gone) return;
        // Not the caller's fault: UNAVAILABLE makes it retry as after a network error.
        this.logger.error({ peer, error: errorMessage(err) }, 'xDS authentication failed');
        call.emit('error', { code: status.UNAVAILABLE, details: 'authentication is unavailable' });
      },
    );
  }

  private admit(call: ServerDeltaStream, authenticatedNodeId: string | undefined): void {
    const stream = new XdsServerStream(this.nextStreamId++, call, authenticatedNodeId, {
      logger: this.logger,
      resources: (typeUrl) => this.types.get(typeUrl)?.resources,
      systemVersion: (typeUrl) => String(this.types.get(typeUrl)?.generation ?? 0),
      onPush: (typeUrl) => this.metrics?.pushes.inc({ type: metricType(typeUrl) }),
    });
    this.streams.set(stream.id, stream);
    this.metrics?.connected.inc();
    this.logger.debug({ stream: stream.id, peer: stream.peer }, 'xDS stream opened');

    call.on('data', (request: discovery.DeltaDiscoveryRequest) => {
      try {
        stream.handle(request);
      } catch (err) {
        this.failStream(stream, err);
      }
    });
    // The client half-closed: it wants nothing more, so the stream is done.
    call.on('end', () => {
      stream.end();
      this.forget(stream);
    });
    call.on('cancelled', () => {
      stream.markClosed();
      this.forget(stream);
    });
    call.on('error', () => {
      stream.markClosed();
      this.forget(stream);
    });
  }

  private failStream(stream: XdsServerStream, err: unknown): void {
    this.logger.error({ stream: stream.id, error: errorMessage(err) }, 'xDS stream failed');
    this.forget(stream);
    stream.fail(status.INTERNAL, 'the xDS server failed to handle the stream');
  }

  private forget(stream: XdsServerStream): void {
    if (!this.streams.delete(stream.id)) return;
    this.metrics?.connected.dec();
    this.logger.info({ stream: stream.id, node: stream.node, peer: stream.peer }, 'xDS client disconnected');
  }
}
