import type { Server, Socket } from 'node:net';
import { formatSocketAddress, type SocketAddress } from '@ambient/core';
import type { HboneDialer } from '@ambient/hbone';
import {
  closeFd,
  dialInNetns,
  isSystemError,
  listenInNetns,
  netnsInode,
  type FileIdentity,
  type IpFamily,
} from '@ambient/redirect';

/** TCP connects from a pod give up after this, as ztunnel's. */
const POD_CONNECT_TIMEOUT_MS = 10_000;

/** An IPv6 socket cannot be made or bound where the namespace has no IPv6: then listen on IPv4 only. */
const NO_IPV6_ERRORS = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

export function ipFamily(ip: string): IpFamily {
  return ip.includes(':') ? 6 : 4;
}

/**
 * One pod's network namespace, as ztunnel uses it: listeners and connections made inside it, every
 * socket carrying the in-pod mark so the pod's own rules let ztunnel's traffic through uncaptured.
 * Owns the namespace fd from construction; `close` releases it (sockets made in the namespace keep
 * working: they hold the namespace themselves).
 */
export class PodNetwork {
  /** HBONE sessions of this pod are dialled from inside it; the name keeps them in their own pool keys. */
  readonly hboneDialer: HboneDialer;
  readonly netns: FileIdentity;
  private fd: number | undefined;

  constructor(
    readonly uid: string,
    netnsFd: number,
    private readonly mark: number,
  ) {
    this.fd = netnsFd;
    this.netns = netnsInode(netnsFd);
    this.hboneDialer = {
      name: `pod ${uid} netns ${String(this.netns.dev)}:${String(this.netns.ino)}`,
      // Under TLS and HTTP/2 a FIN ends the whole session: a half-open socket would keep a dead
      // peer's session, and every stream on it, open forever.
      connect: (ip, port) => this.connect({ ip, port }, false),
    };
  }

  /** Whether `other` names this same namespace (a repeated Add of the pod). */
  isSameNamespace(other: FileIdentity): boolean {
    return other.dev === this.netns.dev && other.ino === this.netns.ino;
  }

  /**
   * Makes `server` listen on `port` of every address of the pod: one dual-stack `[::]` socket as
   * ztunnel binds, or `0.0.0.0` where the namespace has no IPv6. SO_REUSEPORT lets a restarted
   * ztunnel bind while the old one drains. Resolves with the address bound.
   */
  async listen(server: Server, port: number): Promise<string> {
    const options = { port, mark: this.mark, reusePort: true } as const;
    try {
      await listenInNetns(server, this.netnsFd(), { ...options, family: 6, address: '::', v6Only: false });
      return formatSocketAddress('::', port);
    } catch (err) {
      if (!lacksIpv6(err)) throw err;
    }
    await listenInNetns(server, this.netnsFd(), { ...options, family: 4, address: '0.0.0.0' });
    return formatSocketAddress('0.0.0.0', port);
  }

  /**
   * A connection from the pod (outbound: TCP upstreams, HBONE peers), not captured again.
   * Half-open by default, as every proxied TCP connection is.
   */
  async connect(address: SocketAddress, allowHalfOpen = true): Promise<Socket> {
    return await dialInNetns(this.netnsFd(), {
      family: ipFamily(address.ip),
      address: address.ip,
      port: address.port,
      mark: this.mark,
      timeoutMs: POD_CONNECT_TIMEOUT_MS,
      allowHalfOpen,
    });
  }

  /**
   * A connection to the pod's own app showing the caller's IP as its source (IP_TRANSPARENT and
   * a bind to that IP), so the app sees who really called. The pod's rules route the app's
   * replies back to this socket. The pod calling itself, or a caller of the other IP family,
   * is not spoofed.
   */
  readonly connectApp = async (target: SocketAddress, sourceIp: string): Promise<Socket> => {
    const family = ipFamily(target.ip);
    const spoof = sourceIp !== '' && sourceIp !== target.ip && ipFamily(sourceIp) === family;
    return await dialInNetns(this.netnsFd(), {
      family,
      address: target.ip,
      port: target.port,
      mark: this.mark,
      timeoutMs: POD_CONNECT_TIMEOUT_MS,
      ...(spoof ? { bindAddress: sourceIp, transparent: true, freebind: true } : {}),
    });
  };

  /** Releases the namespace fd; later connects fail. Idempotent. */
  close(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) closeFd(fd);
  }

  private netnsFd(): number {
    if (this.fd === undefined) throw new Error(`the network namespace of pod ${this.uid} is closed`);
    return this.fd;
  }
}

function lacksIpv6(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  return isSystemError(cause) && NO_IPV6_ERRORS.has(cause.code);
}
