import net from 'node:net';
import { closeServer, listenOn, normalizeIp } from '@ambient/core';

/** What a demo app says first, so every reply shows who answered and whom it saw calling. */
export function greeting(name: string, ip: string, peerIp: string): string {
  return `hello from ${name} (${ip}), you are ${peerIp}\n`;
}

const GREETING = /^hello from (\S+) \((\S+)\), you are (\S+)\n/;

export interface ParsedReply {
  readonly name: string;
  readonly ip: string;
  readonly peerIp: string;
  /** What came back after the greeting: the echo of the request. */
  readonly echo: string;
}

export function parseReply(reply: string): ParsedReply | undefined {
  const match = GREETING.exec(reply);
  if (!match) return undefined;
  const [head, name = '', ip = '', peerIp = ''] = match;
  return { name, ip, peerIp, echo: reply.slice(head.length) };
}

// A request line starts an HTTP answer, so `curl` works against the apps too.
const HTTP_REQUEST_LINE = /^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/;
const HTTP_HEAD_END = '\r\n\r\n';
/** More than any request head curl sends; past it the bytes are echoed as they are. */
const MAX_HTTP_HEAD_BYTES = 16 * 1024;

export interface DemoApp {
  readonly name: string;
  readonly ip: string;
  /** The bound port (the one asked for, or the one the system chose for 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The workload's application: greets, then echoes every byte until the caller half-closes, and
 * half-closes back. An HTTP/1 request gets the greeting as an HTTP response instead.
 */
export async function startDemoApp(name: string, ip: string, port: number): Promise<DemoApp> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    serve(socket, greeting(name, ip, normalizeIp(socket.remoteAddress ?? '')));
  });
  await listenOn(server, ip, port, `demo app ${name}`);
  return {
    name,
    ip,
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
}

function serve(socket: net.Socket, hello: string): void {
  let head = '';
  const onData = (chunk: Buffer): void => {
    head += chunk.toString('latin1');
    if (HTTP_REQUEST_LINE.test(head)) {
      if (!head.includes(HTTP_HEAD_END) && head.length < MAX_HTTP_HEAD_BYTES) return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.end(
        `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${String(Buffer.byteLength(hello))}\r\n` +
          `connection: close\r\n\r\n${hello}`,
      );
      return;
    }
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.write(hello);
    socket.write(Buffer.from(head, 'latin1'));
    socket.pipe(socket);
  };
  const onEnd = (): void => {
    socket.end(hello + head);
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
}
