import { randomUUID } from 'node:crypto';
import type { status } from '@grpc/grpc-js';
import type { Logger } from '@ambient/core';
import type { discovery } from '@ambient/protos';
import type { ServerDeltaStream } from './service-definition.js';
import { TypeSubscription, type VersionedResource } from './subscription.js';

/** A NACK as the server saw it. */
export interface XdsNack {
  readonly nonce: string;
  /** google.rpc.Code the client gave (3 = INVALID_ARGUMENT from ztunnel). */
  readonly code: number;
  readonly message: string;
}

/** One type on one stream, for /debug and tests. */
export interface XdsStreamTypeStatus {
  readonly typeUrl: string;
  readonly wildcard: boolean;
  /** Explicitly subscribed names, sorted. */
  readonly subscribedNames: readonly string[];
  /** How many resources the client holds, as far as the server knows. */
  readonly resourcesHeld: number;
  readonly lastSentNonce: string | undefined;
  readonly lastAckedNonce: string | undefined;
  /** The most recent NACK, kept after later ACKs so that a rejection stays visible. */
  readonly lastNack: XdsNack | undefined;
}

/** One connected stream, for /debug and tests. */
export interface XdsConnectionStatus {
  readonly id: number;
  readonly peer: string;
  /** The node id the client sent; '' until it sent one. */
  readonly nodeId: string;
  /** What the authenticate hook said the caller is, if it said. */
  readonly authenticatedNodeId: string | undefined;
  readonly types: readonly XdsStreamTypeStatus[];
}

const NO_RESOURCES: ReadonlyMap<string, VersionedResource> = new Map();

interface StreamType {
  readonly subscription: TypeSubscription;
  /** The first request has been answered; until the server holds a set for the type, it waits. */
  answered: boolean;
  lastSentNonce: string | undefined;
  lastAckedNonce: string | undefined;
  lastNack: XdsNack | undefined;
}

/** Where a stream reads the server's current resources and reports what it sent. */
export interface StreamContext {
  readonly logger: Logger;
  /** The current set, or undefined while the server has never been given one for the type. */
  resources(typeUrl: string): ReadonlyMap<string, VersionedResource> | undefined;
  /** A debugging label for the current resource set (`system_version_info`). */
  systemVersion(typeUrl: string): string;
  onPush(typeUrl: string): void;
}

/** One DeltaAggregatedResources stream on the server: its subscriptions, and what it was sent. */
export class XdsServerStream {
  private nodeId = '';
  private readonly types = new Map<string, StreamType>();
  private open = true;
  /** Read once: the transport may be gone by the time the stream is reported. */
  readonly peer: string;

  constructor(
    readonly id: number,
    private readonly call: ServerDeltaStream,
    private readonly authenticatedNodeId: string | undefined,
    private readonly context: StreamContext,
  ) {
    this.peer = call.getPeer();
  }

  /** The node id the client sent; '' until it sent one. */
  get node(): string {
    return this.nodeId;
  }

  /** Marks the stream gone; nothing is written to it afterwards. Returns false if it already was. */
  markClosed(): boolean {
    const wasOpen = this.open;
    this.open = false;
    return wasOpen;
  }

  /** Ends the stream with OK: the client sees the server go away and reconnects. */
  end(): void {
    if (this.markClosed()) this.call.end();
  }

  /** Ends the stream with an error status. */
  fail(code: status, details: string): void {
    if (this.markClosed()) this.call.emit('error', { code, details });
  }

  handle(request: discovery.DeltaDiscoveryRequest): void {
    if (!this.open) return;
    if (this.nodeId === '' && request.node !== undefined && request.node.id !== '') {
      this.nodeId = request.node.id;
      this.context.logger.info({ stream: this.id, node: this.nodeId }, 'xDS client connected');
    }
    const typeUrl = request.typeUrl;
    const known = this.types.get(typeUrl);
    if (known === undefined) {
      // The first request of a type opens the subscription; a nonce it carries belongs to another
      // stream (a reconnect), so it acknowledges nothing here. It gets an answer even when there
      // is nothing to send, so that the client can tell it is in sync.
      const type: StreamType = {
        subscription: TypeSubscription.open(request),
        answered: false,
        lastSentNonce: undefined,
        lastAckedNonce: undefined,
        lastNack: undefined,
      };
      this.types.set(typeUrl, type);
      this.answerFirst(typeUrl, type);
      return;
    }
    this.recordAck(typeUrl, known, request);
    if (request.resourceNamesSubscribe.length > 0 || request.resourceNamesUnsubscribe.length > 0) {
      known.subscription.update(request);
      if (known.answered) this.sendDelta(typeUrl, known, undefined, false);
    }
  }

  /**
   * Sends what changed among `changed` names of a type this stream watches; nothing if nothing
   * did. A first request still waiting for the type's first set is answered now, in full.
   */
  push(typeUrl: string, changed: readonly string[]): void {
    const type = this.types.get(typeUrl);
    if (type === undefined || !this.open) return;
    if (type.answered) this.sendDelta(typeUrl, type, changed, false);
    else this.answerFirst(typeUrl, type);
  }

  status(): XdsConnectionStatus {
    return {
      id: this.id,
      peer: this.peer,
      nodeId: this.nodeId,
      authenticatedNodeId: this.authenticatedNodeId,
      types: [...this.types].map(([typeUrl, type]) => ({
        typeUrl,
        wildcard: type.subscription.isWildcard,
        subscribedNames: type.subscription.subscribedNames,
        resourcesHeld: type.subscription.heldCount,
        lastSentNonce: type.lastSentNonce,
        lastAckedNonce: type.lastAckedNonce,
        lastNack: type.lastNack,
      })),
    };
  }

  /**
   * Answers a type's first request, unless the server has no set for the type yet: an empty
   * answer then would tell a reconnecting client to drop everything it holds of it.
   */
  private answerFirst(typeUrl: string, type: StreamType): void {
    const resources = this.context.resources(typeUrl);
    if (resources === undefined) return;
    type.answered = true;
    this.sendDelta(typeUrl, type, undefined, true);
  }

  private recordAck(typeUrl: string, type: StreamType, request: discovery.DeltaDiscoveryRequest): void {
    const error = request.errorDetail;
    if (error !== undefined) {
      type.lastNack = { nonce: request.responseNonce, code: error.code, message: error.message };
      this.context.logger.warn(
        { stream: this.id, node: this.nodeId, typeUrl, nonce: request.responseNonce, error: error.message },
        'xDS client rejected a response (NACK)',
      );
    } else if (request.responseNonce !== '') {
      type.lastAckedNonce = request.responseNonce;
    }
  }

  private sendDelta(
    typeUrl: string,
    type: StreamType,
    changed: readonly string[] | undefined,
    always: boolean,
  ): void {
    const delta = type.subscription.takeDelta(this.context.resources(typeUrl) ?? NO_RESOURCES, changed);
    if (!always && delta.upserts.length === 0 && delta.removals.length === 0) return;
    const nonce = randomUUID();
    const response: discovery.DeltaDiscoveryResponse = {
      systemVersionInfo: this.context.systemVersion(typeUrl),
      typeUrl,
      nonce,
      resources: delta.upserts.map(([name, resource]) => ({
        name,
        aliases: [],
        version: resource.version,
        resource: {
          typeUrl,
          value: Buffer.from(resource.bytes.buffer, resource.bytes.byteOffset, resource.bytes.byteLength),
        },
      })),
      removedResources: [...delta.removals],
    };
    type.lastSentNonce = nonce;
    this.call.write(response);
    this.context.onPush(typeUrl);
    this.context.logger.debug(
      {
        stream: this.id,
        node: this.nodeId,
        typeUrl,
        nonce,
        resources: delta.upserts.length,
        removed: delta.removals.length,
      },
      'xDS push',
    );
  }
}
