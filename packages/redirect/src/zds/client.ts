import { Backoff, ErrorCode, MeshError, createLogger, errorMessage, type Logger } from '@ambient/core';
import { SeqpacketSocket } from '../seqpacket.js';
import { closeFd } from '../sockets.js';
import {
  ZDS_MAX_PACKET_BYTES,
  decodeRequest,
  encodeAck,
  encodeHello,
  type WorkloadInfo,
  type ZdsRequest,
} from './codec.js';

/** Where istio-cni's node agent listens for ztunnel (a hostPath both pods mount). */
export const ZDS_SOCKET_PATH = '/var/run/ztunnel/ztunnel.sock';

/** ztunnel's reconnect backoff: 10 ms, doubling, at most 15 s. */
export const ZDS_RECONNECT_INITIAL_MS = 10;
export const ZDS_RECONNECT_MAX_MS = 15_000;

/** What ztunnel does with the pods the node agent tells it about. */
export interface ZdsWorkloadHandler {
  /**
   * Start (or replace) the proxy for a pod. Resolving takes ownership of `netnsFd`; a rejecting
   * handler must leave the fd open: the client closes it and nacks ("failure to start proxy : …").
   */
  add(uid: string, info: WorkloadInfo, netnsFd: number): Promise<void>;
  /** During the snapshot only: keep the running proxy for `uid` although no fd came with it. */
  keep(uid: string): void | Promise<void>;
  del(uid: string): Promise<void>;
  /** The snapshot is complete: drain every proxy neither added nor kept since this connection began. */
  snapshotSent(): Promise<void>;
}

export interface ZdsClientOptions {
  handler: ZdsWorkloadHandler;
  path?: string;
  logger?: Logger;
  backoff?: Backoff;
}

/** A request the protocol forbids: nacked, then the connection is dropped and made again. */
class ZdsProtocolViolation extends MeshError {
  constructor(reason: string) {
    super(ErrorCode.ZdsProtocol, reason);
  }
}

/**
 * ztunnel's side of ZDS: connects to the node agent (retrying with backoff), announces itself,
 * and turns each request into a handler call answered by one Ack. A malformed packet or a
 * protocol violation (a second SnapshotSent, Keep after the snapshot) is nacked, and the
 * connection is closed and made again.
 */
export class ZdsClient {
  private readonly handler: ZdsWorkloadHandler;
  private readonly path: string;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private socket: SeqpacketSocket | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private isSynced = false;

  constructor(options: ZdsClientOptions) {
    this.handler = options.handler;
    this.path = options.path ?? ZDS_SOCKET_PATH;
    this.logger = options.logger ?? createLogger({ level: 'silent' });
    this.backoff = options.backoff ?? new Backoff(ZDS_RECONNECT_INITIAL_MS, ZDS_RECONNECT_MAX_MS);
  }

  /** Whether the current connection has delivered its whole snapshot (ztunnel's readiness waits for it). */
  get synced(): boolean {
    return this.isSynced;
  }

  start(): void {
    if (this.running !== undefined) return;
    this.running = this.run();
  }

  /** Closes the connection and stops reconnecting; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.socket?.close();
    this.wake?.();
    await this.running;
  }

  // A method, not the field: TypeScript would keep the loop condition's narrowing across awaits.
  private isStopping(): boolean {
    return this.stopped;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let socket: SeqpacketSocket;
      try {
        socket = SeqpacketSocket.connect(this.path, ZDS_MAX_PACKET_BYTES);
      } catch (err) {
        this.logger.warn(
          { path: this.path, err: errorMessage(err) },
          'failed to connect to the Istio CNI node agent, is the node agent healthy?',
        );
        await this.pause();
        continue;
      }
      this.socket = socket;
      try {
        await this.serve(socket);
        this.logger.info('node agent closed the ZDS connection');
      } catch (err) {
        // stop() closes the socket under a running session: that ending is expected, not a warning.
        if (!this.isStopping()) this.logger.warn({ err: errorMessage(err) }, 'ZDS connection ended');
      } finally {
        socket.close();
        this.socket = undefined;
        this.isSynced = false;
      }
      await this.pause();
    }
  }

  private async serve(socket: SeqpacketSocket): Promise<void> {
    await socket.send(encodeHello());
    let snapshotDone = false;
    for (;;) {
      const packet = await socket.receive();
      if (packet === null) return;
      const decoded = decodeRequest(packet);
      if (!decoded.ok) {
        await socket.send(encodeAck(`failure to read message : ${decoded.reason}`));
        throw new ZdsProtocolViolation(decoded.reason);
      }
      const request = decoded.value;
      let ackError: string;
      try {
        ackError = await this.handle(request, snapshotDone);
      } catch (err) {
        if (!(err instanceof ZdsProtocolViolation)) throw err;
        await socket.send(encodeAck(`failure to process message : ${err.message}`));
        throw err;
      }
      if (request.type === 'snapshotSent') {
        snapshotDone = true;
        this.isSynced = true;
        this.backoff.reset();
      }
      await socket.send(encodeAck(ackError));
    }
  }

  /** The Ack's error text ('' = success); throws ZdsProtocolViolation for requests the protocol forbids. */
  private async handle(request: ZdsRequest, snapshotDone: boolean): Promise<string> {
    switch (request.type) {
      case 'add':
        try {
          await this.handler.add(request.uid, request.info, request.netnsFd);
          return '';
        } catch (err) {
          closeRejectedFd(request.netnsFd, this.logger);
          this.logger.error({ uid: request.uid, err: errorMessage(err) }, 'failed to start proxy');
          return `failure to start proxy : ${errorMessage(err)}`;
        }
      case 'keep':
        if (snapshotDone) throw new ZdsProtocolViolation('pod keep received after snapshot');
        return this.call(() => this.handler.keep(request.uid));
      case 'del':
        return this.call(() => this.handler.del(request.uid));
      case 'snapshotSent':
        if (snapshotDone) throw new ZdsProtocolViolation('pod snapshot received already');
        return this.call(() => this.handler.snapshotSent());
    }
  }

  private async call(work: () => void | Promise<void>): Promise<string> {
    try {
      await work();
      return '';
    } catch (err) {
      this.logger.error({ err: errorMessage(err) }, 'failed to process ZDS message');
      return `failure to process message : ${errorMessage(err)}`;
    }
  }

  /** Waits the next backoff delay, or less if stop() is called. */
  private pause(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.backoff.next());
      this.wake = done;
    });
  }
}

// Rejecting leaves the fd open for us (the handler must not close it); a failing close is a handler bug worth a log.
function closeRejectedFd(fd: number, logger: Logger): void {
  try {
    closeFd(fd);
  } catch (err) {
    logger.error({ fd, err: errorMessage(err) }, 'closing the netns fd of a failed add');
  }
}
