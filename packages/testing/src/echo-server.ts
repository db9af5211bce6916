import net from 'node:net';

export interface EchoServer {
  readonly ip: string;
  readonly port: number;
  /** Peer addresses ("ip") of every connection accepted so far, in order. */
  readonly peers: string[];
  close(): Promise<void>;
}

/**
 * A TCP echo server: every byte comes back; when the client half-closes, the server finishes
 * echoing and half-closes too (so half-close tests see the whole echo). `prefix` is sent first
 * on every connection, to tell servers apart.
 */
export async function startEchoServer(ip: string, port = 0, prefix = ''): Promise<EchoServer> {
  const peers: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    peers.push(socket.remoteAddress ?? '');
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (prefix) socket.write(prefix);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, () => {
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  return {
    ip,
    port: address.port,
    peers,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
