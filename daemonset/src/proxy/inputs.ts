import type { Duplex } from 'node:stream';
import type { Logger } from '@ambient/core';
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
 * The live connections of this ztunnel, so a drain can wait for them and a deadline can end
 * them. Each entry is the side whose destruction tears the whole tunnel down (the pump
 * propagates it to the other side).
 */
export class ConnectionTracker {
  private readonly live = new Set<Duplex>();
  private waiters: (() => void)[] = [];

  get size(): number {
    return this.live.size;
  }

  add(side: Duplex): void {
    this.live.add(side);
  }

  delete(side: Duplex): void {
    this.live.delete(side);
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
