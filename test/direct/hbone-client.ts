import http2 from 'node:http2';
import tls from 'node:tls';

export type ConnectOutcome =
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly stream: http2.ClientHttp2Stream;
      readonly session: http2.ClientHttp2Session;
    }
  | { readonly kind: 'failed'; readonly error: string };

/**
 * A bare HBONE client for tests that must send what our own pool never would: any method, any
 * authority, any TLS settings. Resolves with the response status, or with the failure.
 */
export function rawConnect(options: {
  tls: tls.ConnectionOptions;
  host: string;
  port?: number;
  authority: string;
  method?: string;
  headers?: Record<string, string>;
}): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: ConnectOutcome): void => {
      if (settled) return;
      settled = true;
      if (outcome.kind === 'failed') session?.destroy();
      resolve(outcome);
    };
    let session: http2.ClientHttp2Session | undefined;
    const socket = tls.connect({
      ...options.tls,
      host: options.host,
      port: options.port ?? 15008,
      ALPNProtocols: ['h2'],
    });
    socket.once('error', (err: Error) => {
      done({ kind: 'failed', error: err.message });
    });
    socket.once('secureConnect', () => {
      const h2 = http2.connect(`https://${options.host}`, { createConnection: () => socket });
      session = h2;
      h2.on('error', (err: Error) => {
        done({ kind: 'failed', error: err.message });
      });
      h2.on('close', () => {
        done({ kind: 'failed', error: 'session closed' });
      });
      const method = options.method ?? 'CONNECT';
      const headers: http2.OutgoingHttpHeaders =
        method === 'CONNECT'
          ? { ':method': 'CONNECT', ':authority': options.authority, ...options.headers }
          : {
              ':method': method,
              ':authority': options.authority,
              ':path': '/',
              ':scheme': 'https',
              ...options.headers,
            };
      const stream = h2.request(headers, { endStream: false });
      stream.on('error', (err: Error) => {
        done({ kind: 'failed', error: err.message });
      });
      stream.once('response', (h) => {
        done({ kind: 'status', status: Number(h[':status']), stream, session: h2 });
      });
    });
  });
}
