import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger, SocketAddress } from '@ambient/core';
import type { CertificateProvider } from '@ambient/identity';
import type { HbonePool } from '@ambient/hbone';
import type { ProxyState } from '@ambient/state';
import type { Metrics } from '@ambient/telemetry';
import type { ZtunnelConfig } from '../config.js';
import type { InboundAuthorizer } from './inbound-authorization.js';

/** Everything a proxy component needs, bundled once at startup (ztunnel's ProxyInputs). */
export interface ProxyInputs {
  readonly config: ZtunnelConfig;
  readonly state: ProxyState;
  readonly certificates: CertificateProvider;
  readonly pool: HbonePool;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly connections: ConnectionTracker;
  readonly authorizer: InboundAuthorizer;
  /** ztunnel's own ports and addresses, for loop detection. */
  readonly internalPorts: ReadonlySet<number>;
  readonly selfIps: ReadonlySet<string>;
}

/**
 * Connects to the app of a local workload at `target`, showing `sourceIp` (the caller's) as the
 * source where it can, so the app sees who is really calling.
 */
export type AppConnector = (target: SocketAddress, sourceIp: string) => Promise<Socket>;

/**
 * The live connections of this ztunnel, so a drain can wait for them and a deadline can end
 * them. Each entry is the side whose destruction tears the whole tunnel down (the pump
 * propagates it to the other side). A tracker with a parent (one pod's, in-pod) also reports
 * every connection to the parent (the whole ztunnel's), so either can drain.
 */
export class ConnectionTracker {
  private readonly live = new Set<Duplex>();
  private waiters: (() => void)[] = [];

  constructor(private readonly parent?: ConnectionTracker) {}

  get size(): number {
    return this.live.size;
  }

  add(side: Duplex): void {
    this.live.add(side);
    this.parent?.add(side);
  }

  delete(side: Duplex): void {
    this.live.delete(side);
    this.parent?.delete(side);
    if (this.live.size === 0 && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves when no connection is left. */
  idle(): Promise<void> {
    if (this.live.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  destroyAll(): void {
    for (const side of this.live) side.destroy();
  }
}
