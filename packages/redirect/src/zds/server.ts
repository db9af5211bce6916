import { lstatSync, unlinkSync } from 'node:fs';
import { ErrorCode, MeshError, createLogger, errorMessage, type Logger } from '@ambient/core';
import { SeqpacketServer, type SeqpacketSocket } from '../seqpacket.js';
import {
  ZDS_MAX_PACKET_BYTES,
  decodeAck,
  decodeHello,
  encodeRequest,
  type WorkloadInfo,
  type ZdsMessage,
} from './codec.js';

/** istio-cni's read/write deadline: a ztunnel that has not acked within this is dropped. */
export const ZDS_ACK_TIMEOUT_MS = 5_000;

/** One pod of the snapshot sent to a newly connected ztunnel: Add with its netns fd, or Keep without. */
export type ZdsSnapshotEntry =
  { uid: string; info: WorkloadInfo; netnsFd: number } | { uid: string; keep: true };

export interface ZdsServerOptions {
  path: string;
  /** The pods to announce to each ztunnel that connects. The fds stay the caller's. */
  snapshot: () => readonly ZdsSnapshotEntry[] | Promise<readonly ZdsSnapshotEntry[]>;
  logger?: Logger;
  ackTimeoutMs?: number;
}

/**
 * One connected ztunnel. Requests go out one at a time, each waiting for its Ack; a single read
 * loop takes the hello, then the acks, and notices the peer leaving even when idle.
 */
class ZtunnelConnection {
  synced = false;
  readonly hello: Promise<void>;
  readonly ended: Promise<void>;
  private helloReceived!: () => void;
  private helloFailed!: (err: Error) => void;
  private endedResolve!: () => void;
  private ack:
    { resolve: (error: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private isClosed = false;

  constructor(
    readonly id: number,
    private readonly socket: SeqpacketSocket,
    private readonly ackTimeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.hello = new Promise((resolve, reject) => {
      this.helloReceived = resolve;
      this.helloFailed = reject;
    });
    // Nobody may wait for the hello (a connection that dies at once); that is not an unhandled rejection.
    this.hello.catch(() => undefined);
    this.ended = new Promise((resolve) => {
      this.endedResolve = resolve;
    });
    void this.readLoop();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Sends one request and resolves with its Ack's error text ('' = success). */
  request(message: ZdsMessage, fds: readonly number[] = []): Promise<string> {
    const send = (): Promise<string> => this.sendAndWait(message, fds);
    const result = this.queue.then(send, send);
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(reason: Error): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.close();
    this.helloFailed(reason);
    const ack = this.ack;
    this.ack = undefined;
    if (ack !== undefined) {
      clearTimeout(ack.timer);
      ack.reject(reason);
    }
    this.endedResolve();
  }

  private sendAndWait(message: ZdsMessage, fds: readonly number[]): Promise<string> {
    if (this.isClosed) return Promise.reject(unavailable('the ztunnel connection is closed'));
    const acked = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close(unavailable(`ztunnel did not ack within ${String(this.ackTimeoutMs)} ms`));
      }, this.ackTimeoutMs);
      this.ack = { resolve, reject, timer };
    });
    this.socket.send(encodeRequest(message), fds).catch((err: unknown) => {
      this.close(unavailable(`cannot send to ztunnel: ${errorMessage(err)}`));
    });
    return acked;
  }

  private async readLoop(): Promise<void> {
    try {
      const first = await this.socket.receive();
      if (first === null) {
        this.close(unavailable('ztunnel closed the connection before its hello'));
        return;
      }
      const hello = decodeHello(first);
      if (!hello.ok) {
        this.close(new MeshError(ErrorCode.ZdsProtocol, hello.reason));
        return;
      }
      this.logger.info({ conn: this.id, version: hello.value }, 'received hello from ztunnel');
      this.helloReceived();
      for (;;) {
        const packet = await this.socket.receive();
        if (packet === null) {
          this.close(unavailable('ztunnel closed the connection'));
          return;
        }
        const ack = this.ack;
        const decoded = decodeAck(packet);
        if (ack === undefined || !decoded.ok) {
          const reason = decoded.ok ? 'a message that answers no request' : decoded.reason;
          this.close(new MeshError(ErrorCode.ZdsProtocol, `ztunnel protocol error: ${reason}`));
          return;
        }
        this.ack = undefined;
        clearTimeout(ack.timer);
        ack.resolve(decoded.value);
      }
    } catch (err) {
      this.close(unavailable(`reading from ztunnel failed: ${errorMessage(err)}`));
    }
  }
}

/**
 * The node agent's (istio-cni's) side of ZDS: listens for ztunnel, sends each newly connected
 * ztunnel a snapshot (Add/Keep for every pod, each acked, then SnapshotSent), then forwards pod
 * adds to the latest ztunnel and pod deletes to every connected one, as istio-cni does during a
 * ztunnel rolling upgrade.
 */
export class ZdsServer {
  private readonly connections = new Set<ZtunnelConnection>();
  private latest: ZtunnelConnection | undefined;
  private readonly readyWaiters: (() => void)[] = [];
  private readonly logger: Logger;
  private readonly ackTimeoutMs: number;
  private nextId = 1;
  private readonly listener: SeqpacketServer;

  private constructor(private readonly options: ZdsServerOptions) {
    this.logger = options.logger ?? createLogger({ level: 'silent' });
    this.ackTimeoutMs = options.ackTimeoutMs ?? ZDS_ACK_TIMEOUT_MS;
    removeStaleSocket(options.path);
    this.listener = SeqpacketServer.listen(
      options.path,
      (socket) => {
        this.accept(socket);
      },
      { maxPacketBytes: ZDS_MAX_PACKET_BYTES },
    );
  }

  /** Listens on `options.path`, replacing a stale socket file left there (never any other kind of file). */
  static listen(options: ZdsServerOptions): ZdsServer {
    return new ZdsServer(options);
  }

  /** Connected ztunnels (an old one lingers while a new one takes over). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Resolves once a connected ztunnel has acked its whole snapshot (at once if one has). */
  ready(): Promise<void> {
    if ([...this.connections].some((connection) => connection.synced)) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /**
   * Tells the latest ztunnel to start proxying a pod. Rejects with MESH_ERR_ZDS_REJECTED (the
   * ztunnel's error text) or MESH_ERR_ZDS_UNAVAILABLE. The fd stays the caller's.
   */
  async add(uid: string, info: WorkloadInfo, netnsFd: number): Promise<void> {
    const connection = this.latest;
    if (connection === undefined || connection.closed) throw unavailable('no ztunnel is connected');
    const error = await connection.request({ type: 'add', uid, info }, [netnsFd]);
    if (error !== '') throw new MeshError(ErrorCode.ZdsRejected, `ztunnel rejected add ${uid}: ${error}`);
  }

  /** Tells every connected ztunnel a pod is gone; rejects with the first failure, after all have answered. */
  async del(uid: string): Promise<void> {
    const outcomes = await Promise.allSettled(
      [...this.connections].map((connection) => connection.request({ type: 'del', uid })),
    );
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') throw outcome.reason;
      if (outcome.value !== '') {
        throw new MeshError(ErrorCode.ZdsRejected, `ztunnel rejected del ${uid}: ${outcome.value}`);
      }
    }
  }

  /** Stops listening, drops every ztunnel and removes the socket file. */
  close(): void {
    this.listener.close();
    for (const connection of this.connections) connection.close(unavailable('the ZDS server is closing'));
    try {
      unlinkSync(this.options.path);
    } catch {
      // Already gone.
    }
  }

  private accept(socket: SeqpacketSocket): void {
    const connection = new ZtunnelConnection(this.nextId++, socket, this.ackTimeoutMs, this.logger);
    this.connections.add(connection);
    void connection.ended.then(() => {
      this.connections.delete(connection);
      if (this.latest === connection) this.latest = undefined;
    });
    void this.greet(connection);
  }

  private async greet(connection: ZtunnelConnection): Promise<void> {
    try {
      await connection.hello;
      this.latest = connection;
      const entries = await this.options.snapshot();
      for (const entry of entries) {
        const error =
          'keep' in entry
            ? await connection.request({ type: 'keep', uid: entry.uid })
            : await connection.request({ type: 'add', uid: entry.uid, info: entry.info }, [entry.netnsFd]);
        // As istio-cni: a pod ztunnel cannot start yet is its to retry, not a reason to stop the snapshot.
        if (error !== '')
          this.logger.error({ conn: connection.id, uid: entry.uid, error }, 'snapshot ack error');
      }
      const error = await connection.request({ type: 'snapshotSent' });
      if (error !== '') this.logger.error({ conn: connection.id, error }, 'snapshot-sent ack error');
      connection.synced = true;
      for (const resolve of this.readyWaiters.splice(0)) resolve();
    } catch (err) {
      this.logger.warn({ conn: connection.id, err: errorMessage(err) }, 'ztunnel connection ended');
      connection.close(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

function unavailable(message: string): MeshError {
  return new MeshError(ErrorCode.ZdsUnavailable, message);
}

function removeStaleSocket(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket: refusing to replace it`);
  unlinkSync(path);
}
