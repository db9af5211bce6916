import net from 'node:net';

/**
 * Opens a tunnel through a SOCKS5 proxy (no auth, CONNECT to an IPv4 address or a hostname),
 * dialling from `sourceIp` so the proxy can tell which workload is calling. Resolves with the
 * socket (paused, so no byte is lost) once the proxy answered success; rejects with the SOCKS reply code otherwise.
 */
export function socks5Connect(options: {
  proxyIp: string;
  proxyPort: number;
  sourceIp: string;
  targetHost: string;
  targetPort: number;
}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: options.proxyIp,
      port: options.proxyPort,
      localAddress: options.sourceIp,
      allowHalfOpen: true,
      noDelay: true,
    });
    let stage: 'method' | 'reply' = 'method';
    let buffered = Buffer.alloc(0);
    const fail = (message: string): void => {
      socket.destroy();
      reject(new Socks5Error(message));
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (stage === 'method') {
        if (buffered.length < 2) return;
        if (buffered[0] !== 5 || buffered[1] !== 0) {
          fail(`proxy refused the no-auth method (${buffered.toString('hex')})`);
          return;
        }
        buffered = buffered.subarray(2);
        stage = 'reply';
        socket.write(connectRequest(options.targetHost, options.targetPort));
      }
      if (buffered.length < 10) return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      // Without a data listener a flowing socket drops what arrives next: hold it for the caller.
      socket.pause();
      const reply = buffered[1] ?? 0xff;
      if (reply !== 0) {
        socket.destroy();
        reject(new Socks5Error(`SOCKS5 reply ${String(reply)}`, reply));
        return;
      }
      const rest = buffered.subarray(10);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onEnd = (): void => {
      fail('proxy closed the connection during the handshake');
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', (err) => {
      fail(err.message);
    });
    socket.once('connect', () => {
      socket.write(Buffer.from([5, 1, 0]));
    });
  });
}

export class Socks5Error extends Error {
  constructor(
    message: string,
    readonly reply?: number,
  ) {
    super(message);
    this.name = 'Socks5Error';
  }
}

function connectRequest(host: string, port: number): Buffer {
  const portBytes = Buffer.from([port >> 8, port & 0xff]);
  if (net.isIPv4(host)) {
    return Buffer.concat([Buffer.from([5, 1, 0, 1, ...host.split('.').map(Number)]), portBytes]);
  }
  const name = Buffer.from(host, 'latin1');
  return Buffer.concat([Buffer.from([5, 1, 0, 3, name.length]), name, portBytes]);
}

/** Writes `data`, half-closes, and collects everything the peer sends until it closes. */
export function exchange(socket: net.Socket, data: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.resume();
    socket.once('end', () => {
      resolve(Buffer.concat(chunks));
    });
    socket.once('error', reject);
    socket.end(data);
  });
}
