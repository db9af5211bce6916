import type { PeerCertificate } from './bench-pki.js';

/*
 * The peers' configuration files, as pure functions of addresses and certificates. Both peers get
 * the same contract as our pair: plain TCP in on the client side, TLS 1.3 only, a client
 * certificate required and verified against the mesh root on the server side, plain TCP out to the
 * app. Everything else is left at the defaults a user of the Debian package gets.
 */

export interface Tunnel {
  /** A name for the service section (letters only). */
  readonly name: string;
  /** Client side: plain TCP in. */
  readonly entry: { readonly host: string; readonly port: number };
  /** Server side: TLS in. */
  readonly tls: { readonly host: string; readonly port: number };
  /** The app: plain TCP out. */
  readonly app: { readonly host: string; readonly port: number };
}

export interface PeerSide {
  readonly certificate: PeerCertificate;
  readonly rootPath: string;
  readonly tunnels: readonly Tunnel[];
}

const address = ({ host, port }: { host: string; port: number }): string => `${host}:${String(port)}`;

/** stunnel: one process per side, one service per tunnel, foreground, log to stderr (the log file). */
export function stunnelConfig(side: 'client' | 'server', config: PeerSide): string {
  // syslog = no: without a syslog daemon stunnel falls back to writing every log line to
  // /dev/console, about 1–3 ms each, several per connection; its log still goes to the log file.
  const lines = ['foreground = yes', 'syslog = no', 'pid =', ''];
  for (const tunnel of config.tunnels) {
    lines.push(
      `[${tunnel.name}]`,
      ...(side === 'client'
        ? ['client = yes', `accept = ${address(tunnel.entry)}`, `connect = ${address(tunnel.tls)}`]
        : [`accept = ${address(tunnel.tls)}`, `connect = ${address(tunnel.app)}`]),
      `cert = ${config.certificate.chainPath}`,
      `key = ${config.certificate.keyPath}`,
      `CAfile = ${config.rootPath}`,
      'verifyChain = yes',
      // The server refuses a client without a certificate; the client always has one to present.
      ...(side === 'server' ? ['requireCert = yes'] : []),
      'sslVersionMin = TLSv1.3',
      // TCP wrappers' per-connection check (a reverse lookup of the client through a few helper
      // processes) is access control, not tunnelling; with it on, this machine capped stunnel at
      // about 65 new connections/s.
      'libwrap = no',
      '',
    );
  }
  return lines.join('\n');
}

// Idle tunnels must survive the memory measurement and the slowest flow; HAProxy's own default is none.
const HAPROXY_IDLE_TIMEOUT = '1h';
// Above the bench's 1,000 idle connections plus the new-connection flow's, with room; each takes two
// descriptors, which must fit the limit HAProxy inherits (20,000 here).
const HAPROXY_MAX_CONNECTIONS = 5_000;

/** HAProxy: TCP mode, one thread (a single core, like one Node process), no logging configured. */
export function haproxyConfig(side: 'client' | 'server', config: PeerSide): string {
  const tls = `ssl crt ${config.certificate.combinedPath} ca-file ${config.rootPath} verify required`;
  const lines = [
    'global',
    '  nbthread 1',
    `  maxconn ${String(HAPROXY_MAX_CONNECTIONS)}`,
    '  ssl-default-bind-options ssl-min-ver TLSv1.3',
    '  ssl-default-server-options ssl-min-ver TLSv1.3',
    '',
    'defaults',
    '  mode tcp',
    `  maxconn ${String(HAPROXY_MAX_CONNECTIONS)}`,
    '  timeout connect 5s',
    `  timeout client ${HAPROXY_IDLE_TIMEOUT}`,
    `  timeout server ${HAPROXY_IDLE_TIMEOUT}`,
    '',
  ];
  for (const tunnel of config.tunnels) {
    if (side === 'client') {
      lines.push(
        `frontend ${tunnel.name}`,
        `  bind ${address(tunnel.entry)}`,
        `  default_backend ${tunnel.name}`,
        `backend ${tunnel.name}`,
        `  server tunnel ${address(tunnel.tls)} ${tls}`,
        '',
      );
    } else {
      lines.push(
        `frontend ${tunnel.name}`,
        `  bind ${address(tunnel.tls)} ${tls}`,
        `  default_backend ${tunnel.name}`,
        `backend ${tunnel.name}`,
        `  server app ${address(tunnel.app)}`,
        '',
      );
    }
  }
  return lines.join('\n');
}
