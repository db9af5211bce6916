import { native, type Poller, type SeqpacketPacket } from './addon.js';
import { createPoller } from './poller.js';
import { closeFd } from './sockets.js';

export type { SeqpacketPacket };

/** Read buffer when the caller names none; ZDS passes its own 1024. */
export const DEFAULT_MAX_PACKET_BYTES = 64 * 1024;

/** After accept() fails (EMFILE, ENOBUFS), wait this long rather than spin on a still-readable listener. */
const ACCEPT_RETRY_DELAY_MS = 100;

// The raw, non-blocking calls, for callers that drive readiness themselves (createPoller). They
// throw SystemErrors; the classes below are the event-driven way to use them.

/** Connects to a listening path and returns the fd (ENOENT, ECONNREFUSED, EAGAIN are thrown). */
export function seqpacketConnect(path: string): number {
  return native.seqpacketConnect(path);
}

/** Binds and listens on a path that must not exist yet; returns the listening fd. */
export function seqpacketListen(path: string, backlog: number): number {
  return native.seqpacketListen(path, backlog);
}

/** An accepted connection's fd, or null when none is waiting. */
export function seqpacketAccept(fd: number): number | null {
  return native.seqpacketAccept(fd);
}

/** Sends one message with optional fds (which stay open here); false when the socket buffer is full. */
export function seqpacketSend(fd: number, bytes: Uint8Array, fds: readonly number[] = []): boolean {
  return native.seqpacketSend(fd, bytes, fds);
}

/**
 * One message, or null when none is waiting. A zero-byte packet without fds means the peer
 * closed. The caller owns every returned fd.
 */
export function seqpacketRecv(fd: number, maxBytes: number): SeqpacketPacket | null {
  return native.seqpacketRecv(fd, maxBytes);
}

interface ReceiveWaiter {
  resolve: (packet: SeqpacketPacket | null) => void;
  reject: (err: Error) => void;
}

interface PendingSend {
  data: Uint8Array;
  fds: readonly number[];
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * A connected Unix SOCK_SEQPACKET socket: whole messages, each with optional fds (SCM_RIGHTS).
 * Event-driven on a libuv poller that runs only while a receive or a send is waiting.
 */
export class SeqpacketSocket {
  private readonly poller: Poller;
  private receiving: ReceiveWaiter | undefined;
  private readonly sends: PendingSend[] = [];
  private isClosed = false;

  /** Adopts a connected SEQPACKET fd (closed by close()). */
  constructor(
    readonly fd: number,
    private readonly maxPacketBytes = DEFAULT_MAX_PACKET_BYTES,
  ) {
    this.poller = createPoller(fd, (readable, writable) => {
      this.onReady(readable, writable);
    });
  }

  /** Connects to a listening path; throws a SystemError (ENOENT, ECONNREFUSED, EAGAIN) at once. */
  static connect(path: string, maxPacketBytes = DEFAULT_MAX_PACKET_BYTES): SeqpacketSocket {
    return new SeqpacketSocket(seqpacketConnect(path), maxPacketBytes);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * The next message, or null once the peer has closed (or this socket was closed). One receive
   * at a time. The caller owns the fds of the packet, truncated or not.
   */
  receive(): Promise<SeqpacketPacket | null> {
    if (this.isClosed) return Promise.resolve(null);
    if (this.receiving !== undefined) return Promise.reject(new Error('a receive is already waiting'));
    try {
      const packet = this.tryReceive();
      if (packet !== undefined) return Promise.resolve(packet);
    } catch (err) {
      return Promise.reject(asError(err));
    }
    return new Promise((resolve, reject) => {
      this.receiving = { resolve, reject };
      this.updateInterest();
    });
  }

  /** Sends one message; `fds` stay open here (the peer gets duplicates). Sends keep their order. */
  send(data: Uint8Array, fds: readonly number[] = []): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error('the socket is closed'));
    if (this.sends.length === 0) {
      try {
        if (seqpacketSend(this.fd, data, fds)) return Promise.resolve();
      } catch (err) {
        return Promise.reject(asError(err));
      }
    }
    return new Promise((resolve, reject) => {
      this.sends.push({ data, fds, resolve, reject });
      this.updateInterest();
    });
  }

  /** Closes the fd: a waiting receive resolves null, waiting sends reject. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.poller.close();
    closeFd(this.fd);
    const receiving = this.receiving;
    this.receiving = undefined;
    receiving?.resolve(null);
    for (const send of this.sends.splice(0)) send.reject(new Error('the socket is closed'));
  }

  /** Whether a waiting receive or send keeps the process alive (it does by default). */
  ref(): void {
    if (!this.isClosed) this.poller.ref();
  }

  unref(): void {
    if (!this.isClosed) this.poller.unref();
  }

  /** A packet, null at end of stream, undefined when nothing is waiting. */
  private tryReceive(): SeqpacketPacket | null | undefined {
    const packet = seqpacketRecv(this.fd, this.maxPacketBytes);
    if (packet === null) return undefined;
    if (packet.data.length === 0 && packet.fds.length === 0 && !packet.truncated) return null;
    return packet;
  }

  private onReady(readable: boolean, writable: boolean): void {
    if (readable && this.receiving !== undefined) this.receiveNow(this.receiving);
    if (writable) this.flushSends();
    if (!this.isClosed) this.updateInterest();
  }

  private receiveNow(waiter: ReceiveWaiter): void {
    let packet: SeqpacketPacket | null | undefined;
    try {
      packet = this.tryReceive();
    } catch (err) {
      this.receiving = undefined;
      waiter.reject(asError(err));
      return;
    }
    if (packet === undefined) return;
    this.receiving = undefined;
    waiter.resolve(packet);
  }

  private flushSends(): void {
    while (this.sends.length > 0) {
      const send = this.sends[0];
      if (send === undefined) return;
      try {
        if (!seqpacketSend(this.fd, send.data, send.fds)) return;
        this.sends.shift();
        send.resolve();
      } catch (err) {
        this.sends.shift();
        send.reject(asError(err));
      }
    }
  }

  private updateInterest(): void {
    const readable = this.receiving !== undefined;
    const writable = this.sends.length > 0;
    if (readable || writable) this.poller.start(readable, writable);
    else this.poller.stop();
  }
}

export interface SeqpacketServerOptions {
  backlog?: number;
  maxPacketBytes?: number;
}

/** A listening Unix SOCK_SEQPACKET socket that hands each accepted connection to `onConnection`. */
export class SeqpacketServer {
  private readonly poller: Poller;
  private isClosed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly fd: number,
    readonly path: string,
    private readonly onConnection: (socket: SeqpacketSocket) => void,
    private readonly maxPacketBytes: number,
  ) {
    this.poller = createPoller(fd, () => {
      this.acceptAll();
    });
    this.poller.start(true, false);
  }

  /**
   * Binds and listens on `path`, which must not exist. `onConnection` owns each socket; if it
   * throws, that connection is closed.
   */
  static listen(
    path: string,
    onConnection: (socket: SeqpacketSocket) => void,
    options: SeqpacketServerOptions = {},
  ): SeqpacketServer {
    const fd = seqpacketListen(path, options.backlog ?? 16);
    try {
      return new SeqpacketServer(fd, path, onConnection, options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES);
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  }

  /** Stops accepting and closes the listening fd; accepted sockets stay open. The path is not removed. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearTimeout(this.retryTimer);
    this.poller.close();
    closeFd(this.fd);
  }

  private acceptAll(): void {
    for (;;) {
      if (this.isClosed) return;
      let fd: number | null;
      try {
        fd = seqpacketAccept(this.fd);
      } catch {
        this.pauseAccepting();
        return;
      }
      if (fd === null) return;
      let socket: SeqpacketSocket | undefined;
      try {
        socket = new SeqpacketSocket(fd, this.maxPacketBytes);
        this.onConnection(socket);
      } catch {
        if (socket === undefined) closeFd(fd);
        else socket.close();
      }
    }
  }

  private pauseAccepting(): void {
    this.poller.stop();
    this.retryTimer = setTimeout(() => {
      if (!this.isClosed) this.poller.start(true, false);
    }, ACCEPT_RETRY_DELAY_MS);
    this.retryTimer.unref();
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
