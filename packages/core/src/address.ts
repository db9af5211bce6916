import { isIP } from 'node:net';

export interface SocketAddress {
  readonly ip: string;
  readonly port: number;
}

/** `1.2.3.4:80` or `[::1]:80`. */
export function formatSocketAddress(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${String(port)}` : `${ip}:${String(port)}`;
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** An authority of the form `ip:port` (IPv6 bracketed), or undefined. */
export function parseSocketAddress(text: string): SocketAddress | undefined {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return undefined;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (isIP(host) !== 4) return undefined;
  }
  const port = parsePort(portText);
  return port === undefined ? undefined : { ip: host, port };
}

export type Authority =
  | { readonly kind: 'ip'; readonly ip: string; readonly port: number }
  | { readonly kind: 'hostname'; readonly hostname: string; readonly port: number };

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** An HBONE `:authority`: `ip:port`, `[v6]:port` or `hostname:port`. */
export function parseAuthority(text: string): Authority | undefined {
  const address = parseSocketAddress(text);
  if (address) return { kind: 'ip', ip: address.ip, port: address.port };
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const hostname = text.slice(0, colon);
  const port = parsePort(text.slice(colon + 1));
  if (port === undefined || !HOSTNAME.test(hostname) || isIP(hostname) !== 0) return undefined;
  // An all-numeric dotted name is a malformed IP, not a hostname.
  if (/^[\d.]+$/.test(hostname)) return undefined;
  return { kind: 'hostname', hostname: hostname.toLowerCase(), port };
}

/** Strip the `::ffff:` prefix Node reports for IPv4 peers on dual-stack sockets. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
