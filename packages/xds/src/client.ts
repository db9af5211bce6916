import {
  Metadata,
  status,
  type ChannelCredentials,
  type ChannelOptions,
  type StatusObject,
} from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { Backoff, ErrorCode, MeshError, errorMessage, type Logger } from '@ambient/core';
import type { core, discovery } from '@ambient/protos';
import { applyResponse } from './client-response.js';
import type { ResourceHandler } from './handler.js';
import { XdsClientMetrics } from './metrics.js';
import { createDeltaAdsClient, type ClientDeltaStream, type DeltaAdsClient } from './service-definition.js';
import { classifyTermination } from './termination.js';

/** ztunnel's reconnect backoff after a connection error: 10 ms, doubling... */
const DEFAULT_INITIAL_BACKOFF_MS = 10;
/** ...up to 15 s. */
const DEFAULT_MAX_BACKOFF_MS = 15_000;
/** ztunnel accepts responses up to 200 MiB: a large mesh's first Address push is big. */
const MAX_RECEIVE_MESSAGE_BYTES = 200 * 1024 * 1024;
/** google.rpc.Code INVALID_ARGUMENT: what a NACK carries. */
const NACK_CODE = 3;

/** Request headers as a grpc-js Metadata or as name → value. */
export type XdsHeaders = Metadata | Readonly<Record<string, string>>;

/** Request headers: fixed, or built per connection attempt (a token file the kubelet rotates). */
export type XdsRequestMetadata = XdsHeaders | (() => XdsHeaders | Promise<XdsHeaders>);

export interface DeltaXdsClientOptions {
  /** `host:port` of the control plane. */
  readonly address: string;
  /** TLS with the control plane's root, or insecure (plaintext 15010, tests). */
  readonly credentials: ChannelCredentials;
  /** e.g. `grpc.ssl_target_name_override` when the certificate names a service, not the address dialled. */
  readonly channelOptions?: ChannelOptions;
  /** e.g. `authorization: Bearer <token>`, `clusterid: <cluster>`, ztunnel's `XDS_HEADER_*`. */
  readonly metadata?: XdsRequestMetadata;
  /** Sent on every initial request (see `ztunnelNode`). */
  readonly node: core.Node;
  /** One per watched type; each type gets a wildcard subscription. */
  readonly handlers: readonly ResourceHandler<unknown>[];
  readonly logger: Logger;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Where istio_xds_* counters go; none when absent. */
  readonly registry?: Registry;
}

export interface XdsClientNack {
  readonly nonce: string;
  readonly message: string;
}

export interface XdsClientTypeStatus {
  readonly typeUrl: string;
  /** Resources the handler holds (accepted, not since removed). */
  readonly resourceCount: number;
  /** A response of this type has been ACKed (on any stream). */
  readonly synced: boolean;
  readonly lastAckNonce: string | undefined;
  /** The most recent NACK, kept after later ACKs so that a rejection stays visible. */
  readonly lastNack: XdsClientNack | undefined;
}

/** For /config_dump. */
export interface XdsClientStatus {
  readonly address: string;
  /** A stream is up and the server has answered on it. */
  readonly connected: boolean;
  /** Connection attempts so far. */
  readonly attempts: number;
  readonly types: readonly XdsClientTypeStatus[];
}

interface TypeState {
  readonly handler: ResourceHandler<unknown>;
  /** name → version of what the handler holds; sent as initial_resource_versions on reconnect. */
  readonly known: Map<string, string>;
  synced: boolean;
  lastAckNonce: string | undefined;
  lastNack: XdsClientNack | undefined;
}

/** One stream attempt and what it has seen. */
interface Attempt {
  readonly id: number;
  readonly client: DeltaAdsClient;
  readonly call: ClientDeltaStream;
  /** The server has answered (headers or a message). */
  established: boolean;
  ended: boolean;
  readonly done: Promise<void>;
  /** Per type: whether its initial request claimed resources, and whether a response came yet. */
  readonly types: Map<string, { readonly claimed: boolean; answered: boolean }>;
}

/**
 * ztunnel's Delta ADS client, generic over resource types: one stream to the control plane with a
 * wildcard subscription per handler, every response ACKed or NACKed (naming each rejected
 * resource), reconnects that resume from what is held (`initial_resource_versions`), and ztunnel's
 * backoff rules. Handlers keep their state across reconnects, so the proxy serves the last good
 * configuration while the control plane is away.
 */
export class DeltaXdsClient {
  /** Resolves once every type has received and ACKed a response (readiness gating); never rejects. */
  readonly ready: Promise<void>;
  private markReady: () => void = () => undefined;
  private readonly logger: Logger;
  private readonly types = new Map<string, TypeState>();
  private readonly backoff: Backoff;
  private readonly initialBackoffMs: number;
  private readonly metrics: XdsClientMetrics | undefined;
  private readonly fixedMetadata: Metadata | undefined;
  private state: 'idle' | 'running' | 'closed' = 'idle';
  private attempts = 0;
  private current: Attempt | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: DeltaXdsClientOptions) {
    this.logger = options.logger;
    this.initialBackoffMs = options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS;
    this.backoff = new Backoff(this.initialBackoffMs, options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
    this.metrics = options.registry === undefined ? undefined : new XdsClientMetrics(options.registry);
    for (const handler of options.handlers) {
      if (this.types.has(handler.typeUrl)) {
        throw new MeshError(ErrorCode.ConfigInvalid, `two xDS handlers for ${handler.typeUrl}`);
      }
      this.types.set(handler.typeUrl, {
        handler,
        known: new Map(),
        synced: false,
        lastAckNonce: undefined,
        lastNack: undefined,
      });
    }
    // Fixed headers are checked now, so that a bad header name fails at startup, not per attempt.
    const metadata = options.metadata;
    this.fixedMetadata = typeof metadata === 'function' ? undefined : toGrpcMetadata(metadata ?? {});
    this.ready = new Promise((resolve) => {
      this.markReady = resolve;
    });
    if (this.types.size === 0) this.markReady();
  }

  /** Connects, and keeps reconnecting until close(). */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    void this.connect();
  }

  /** Ends the stream and stops reconnecting; resolves once the stream is gone. Idempotent. */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.state = 'closed';
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const attempt = this.current;
    this.current = undefined;
    attempt?.call.cancel();
    this.closing = attempt === undefined ? Promise.resolve() : attempt.done;
    return this.closing;
  }

  status(): XdsClientStatus {
    return {
      address: this.options.address,
      connected: this.current?.established ?? false,
      attempts: this.attempts,
      types: [...this.types].map(([typeUrl, type]) => ({
        typeUrl,
        resourceCount: type.known.size,
        synced: type.synced,
        lastAckNonce: type.lastAckNonce,
        lastNack: type.lastNack,
      })),
    };
  }

  /** One attempt: never rejects; every failure ends in a scheduled retry or a closed client. */
  private async connect(): Promise<void> {
    const id = ++this.attempts;
    try {
      const metadata = await this.requestMetadata();
      if (this.state === 'running') this.open(id, metadata);
    } catch (err) {
      const started = this.current;
      if (started?.id === id) {
        // Half-opened: drop it, so that its end does not schedule a second reconnect.
        this.current = undefined;
        started.call.cancel();
      }
      if (this.state !== 'running') return;
      this.metrics?.terminations.inc({ reason: 'ConnectionError' });
      const delayMs = this.backoff.next();
      this.logger.warn(
        { attempt: id, address: this.options.address, error: errorMessage(err), delayMs },
        'xDS connection could not be started; retrying',
      );
      this.scheduleConnect(delayMs);
    }
  }

  /** Opens the stream and sends one initial request per type. */
  private open(id: number, metadata: Metadata): void {
    const client = createDeltaAdsClient(this.options.address, this.options.credentials, {
      'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
      ...this.options.channelOptions,
    });
    const call = client.deltaAggregatedResources(metadata);
    let finish: () => void = () => undefined;
    const attempt: Attempt = {
      id,
      client,
      call,
      established: false,
      ended: false,
      done: new Promise((resolve) => {
        finish = resolve;
      }),
      types: new Map(),
    };
    this.current = attempt;

    call.on('metadata', () => {
      attempt.established = true;
    });
    call.on('data', (response: discovery.DeltaDiscoveryResponse) => {
      this.onResponse(attempt, response);
    });
    // Every end arrives as 'status'; without an 'error' listener a failed call would crash the process.
    call.on('error', () => undefined);
    call.on('status', (end: StatusObject) => {
      attempt.ended = true;
      client.close();
      finish();
      this.onStreamEnd(attempt, end);
    });

    for (const [typeUrl, type] of this.types) {
      attempt.types.set(typeUrl, { claimed: type.known.size > 0, answered: false });
      this.logger.debug({ attempt: id, typeUrl, resources: type.known.size }, 'xDS initial request');
      call.write({
        node: this.options.node,
        typeUrl,
        resourceNamesSubscribe: [],
        resourceNamesUnsubscribe: [],
        initialResourceVersions: Object.fromEntries(type.known),
        responseNonce: '',
      });
    }
  }

  private async requestMetadata(): Promise<Metadata> {
    if (this.fixedMetadata !== undefined) return this.fixedMetadata.clone();
    const source = this.options.metadata;
    return toGrpcMetadata(typeof source === 'function' ? await source() : {});
  }

  private onResponse(attempt: Attempt, response: discovery.DeltaDiscoveryResponse): void {
    if (attempt !== this.current || attempt.ended) return;
    attempt.established = true;
    this.backoff.reset();
    const typeUrl = response.typeUrl;
    try {
      this.metrics?.messages.inc({ url: typeUrl });
      let bytes = 0;
      for (const resource of response.resources) bytes += resource.resource?.value.length ?? 0;
      this.metrics?.messageBytes.inc({ url: typeUrl }, bytes);

      const type = this.types.get(typeUrl);
      const streamType = attempt.types.get(typeUrl);
      if (type === undefined || streamType === undefined) {
        this.reply(attempt, typeUrl, response.nonce, `no handler for ${typeUrl}`);
        return;
      }
      const initial = !streamType.answered && !streamType.claimed;
      streamType.answered = true;
      const result = applyResponse(type.handler, response, type.known, initial);
      this.logger.debug(
        {
          attempt: attempt.id,
          typeUrl,
          nonce: response.nonce,
          resources: response.resources.length,
          removed: response.removedResources.length,
          accepted: result.accepted,
          initial,
        },
        'xDS response',
      );
      if (result.problems.length === 0) {
        type.lastAckNonce = response.nonce;
        this.reply(attempt, typeUrl, response.nonce, undefined);
        if (!type.synced) {
          type.synced = true;
          if ([...this.types.values()].every((t) => t.synced)) this.markReady();
        }
      } else {
        const message = result.problems.join('; ');
        type.lastNack = { nonce: response.nonce, message };
        this.logger.warn({ typeUrl, nonce: response.nonce, error: message }, 'xDS response rejected (NACK)');
        this.reply(attempt, typeUrl, response.nonce, message);
      }
    } catch (err) {
      // A bug of ours, not the server's; NACK so that the server knows this response did not land.
      this.logger.error({ typeUrl, error: errorMessage(err) }, 'xDS response handling failed');
      this.reply(
        attempt,
        typeUrl,
        response.nonce,
        `the client failed to handle the response: ${errorMessage(err)}`,
      );
    }
  }

  /** ACK (no error) or NACK (`error` as the message) of the response with `nonce`. */
  private reply(attempt: Attempt, typeUrl: string, nonce: string, error: string | undefined): void {
    if (attempt.ended) return;
    const request: discovery.DeltaDiscoveryRequest = {
      typeUrl,
      resourceNamesSubscribe: [],
      resourceNamesUnsubscribe: [],
      initialResourceVersions: {},
      responseNonce: nonce,
    };
    if (error !== undefined) request.errorDetail = { code: NACK_CODE, message: error, details: [] };
    try {
      attempt.call.write(request);
    } catch (err) {
      // Only a stream already failing throws here; its end reconnects.
      this.logger.debug({ typeUrl, error: errorMessage(err) }, 'xDS ACK/NACK not sent');
    }
  }

  private onStreamEnd(attempt: Attempt, end: StatusObject): void {
    if (attempt !== this.current || this.state !== 'running') return;
    this.current = undefined;
    const termination = classifyTermination({
      code: end.code,
      details: end.details,
      established: attempt.established,
    });
    this.metrics?.terminations.inc({ reason: termination.reason });
    let delayMs: number;
    if (termination.retry === 'soon') {
      this.backoff.reset();
      delayMs = this.initialBackoffMs;
    } else {
      delayMs = this.backoff.next();
    }
    const fields = {
      attempt: attempt.id,
      address: this.options.address,
      code: status[end.code],
      details: end.details,
      reason: termination.reason,
      delayMs,
    };
    if (termination.reason === 'Reconnect') this.logger.debug(fields, 'xDS stream ended; reconnecting');
    else this.logger.warn(fields, 'xDS stream ended; reconnecting');
    this.scheduleConnect(delayMs);
  }

  private scheduleConnect(delayMs: number): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delayMs);
  }
}

function toGrpcMetadata(headers: XdsHeaders): Metadata {
  // Cloned: grpc-js may add to the Metadata of a call, and each attempt is a new call.
  if (headers instanceof Metadata) return headers.clone();
  const metadata = new Metadata();
  for (const [name, value] of Object.entries(headers)) metadata.set(name, value);
  return metadata;
}
