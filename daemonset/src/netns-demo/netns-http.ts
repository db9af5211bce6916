import { closeSync, openSync } from 'node:fs';
import { request } from 'node:http';
import { isIPv6 } from 'node:net';
import { dialInNetns } from '@ambient/redirect';

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * Plain HTTP GETs made from inside one network namespace (its sockets are created there), so the
 * launcher, which runs in the host's namespace, can read the ztunnels' readiness and metrics on
 * the node network without a route to it or a helper process per request.
 */
export class NetnsHttp {
  private readonly netnsFd: number;
  private closed = false;

  constructor(netnsPath: string) {
    this.netnsFd = openSync(netnsPath, 'r');
  }

  async get(ip: string, port: number, path: string, timeoutMs: number): Promise<HttpAnswer> {
    if (this.closed) throw new Error('the namespace handle is closed');
    const socket = await dialInNetns(this.netnsFd, {
      family: isIPv6(ip) ? 6 : 4,
      address: ip,
      port,
      timeoutMs,
      allowHalfOpen: false,
    });
    return new Promise((resolve, reject) => {
      // No agent: with createConnection alone, the request rides the socket made in the namespace.
      const req = request(
        {
          host: ip,
          port,
          path,
          method: 'GET',
          createConnection: () => socket,
          timeout: timeoutMs,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET http://${ip}:${String(port)}${path} timed out`)));
      req.on('error', (err) => {
        socket.destroy();
        reject(err);
      });
      req.end();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.netnsFd);
  }
}
