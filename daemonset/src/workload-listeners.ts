import net from 'node:net';
import { closeServer, errorMessage, listenOn, type Logger } from '@ambient/core';
import { HboneServer, type InboundStream } from '@ambient/hbone';
import type { ProxyState, Workload } from '@ambient/state';
import type { CertificateSource } from './certificates.js';
import type { ZtunnelConfig } from './config.js';

export interface WorkloadListenersOptions {
  readonly config: ZtunnelConfig;
  readonly state: ProxyState;
  readonly certificates: CertificateSource;
  readonly logger: Logger;
  readonly onHboneStream: (request: InboundStream) => void;
  readonly onPlaintext: (socket: net.Socket) => void;
  /** The IPs this ztunnel currently serves, kept up to date for loop detection. */
  readonly selfIps: Set<string>;
}

/** The listeners of one local workload IP. */
interface IpListeners {
  readonly uid: string;
  readonly identity: string;
  readonly hbone: HboneServer | undefined;
  readonly plaintext: net.Server;
}

/**
 * The inbound listeners of the workloads on this node (15008 HBONE and 15006 plaintext on each pod
 * IP), following the state: a workload that appears gets its certificate and then its listeners; one
 * that leaves has its listeners drained (open connections finish). Reconciles run one at a time, so a
 * burst of changes never races two binds of the same address.
 */
export class WorkloadListeners {
  private readonly byIp = new Map<string, IpListeners>();
  private readonly identityUsers = new Map<string, number>();
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: WorkloadListenersOptions) {}

  /**
   * Brings listeners in line with the current state. At startup (`failFast`) a bind failure rejects, so
   * a taken port stops the process; later ones are logged and retried on the next change.
   */
  reconcile(failFast = false): Promise<void> {
    const run = this.queue.then(() => this.reconcileNow(failFast));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Every local workload's listeners, for rotation: new handshakes present the new certificate. */
  serversFor(identity: string): HboneServer[] {
    const servers: HboneServer[] = [];
    for (const entry of this.byIp.values()) {
      if (entry.identity === identity && entry.hbone) servers.push(entry.hbone);
    }
    return servers;
  }

  get size(): number {
    return this.byIp.size;
  }

  /** Stop accepting everywhere; GOAWAY open HBONE sessions. */
  drain(): void {
    this.stopped = true;
    for (const entry of this.byIp.values()) {
      entry.plaintext.close();
      entry.hbone?.drain();
    }
  }

  destroy(): void {
    this.stopped = true;
    for (const entry of this.byIp.values()) {
      entry.plaintext.close();
      entry.hbone?.destroy();
    }
    this.byIp.clear();
  }

  private async reconcileNow(failFast: boolean): Promise<void> {
    if (this.stopped) return;
    const { config, state, selfIps } = this.options;
    const wanted = new Map<string, Workload>();
    for (const workload of state.workloadsOnNode(config.nodeName)) {
      for (const ip of workload.workloadIps) wanted.set(ip, workload);
    }
    for (const [ip, entry] of this.byIp) {
      const workload = wanted.get(ip);
      if (workload?.uid !== entry.uid || workload.identity !== entry.identity || !sameMode(workload, entry)) {
        this.close(ip, entry);
      }
    }
    const opening: Promise<void>[] = [];
    for (const [ip, workload] of wanted) {
      if (this.byIp.has(ip)) continue;
      opening.push(
        this.open(ip, workload).catch((err: unknown) => {
          if (failFast) throw err;
          this.options.logger.error(
            { workload: `${workload.namespace}/${workload.name}`, ip, error: errorMessage(err) },
            'could not open inbound listeners',
          );
        }),
      );
    }
    await Promise.all(opening);
    selfIps.clear();
    selfIps.add(config.instanceIp);
    for (const ip of this.byIp.keys()) selfIps.add(ip);
  }

  private async open(ip: string, workload: Workload): Promise<void> {
    const { config, certificates, logger } = this.options;
    let hbone: HboneServer | undefined;
    if (workload.tunnelProtocol === 'HBONE') {
      this.useIdentity(workload.identity);
      try {
        const certificate = await certificates.ready(workload.identity);
        hbone = await HboneServer.listen({
          host: ip,
          port: config.ports.hbone,
          certificate,
          logger,
          onStream: this.options.onHboneStream,
        });
      } catch (err) {
        this.releaseIdentity(workload.identity);
        throw err;
      }
    }
    const plaintext = net.createServer({ allowHalfOpen: true, noDelay: true }, this.options.onPlaintext);
    try {
      await listenOn(
        plaintext,
        ip,
        config.ports.inboundPlaintext,
        `inbound plaintext (${workload.namespace}/${workload.name})`,
      );
    } catch (err) {
      if (hbone) {
        hbone.destroy();
        this.releaseIdentity(workload.identity);
      }
      throw err;
    }
    if (this.stopped) {
      hbone?.destroy();
      plaintext.close();
      return;
    }
    this.byIp.set(ip, { uid: workload.uid, identity: workload.identity, hbone, plaintext });
    logger.info({ workload: `${workload.namespace}/${workload.name}`, ip }, 'serving workload');
  }

  private close(ip: string, entry: IpListeners): void {
    this.byIp.delete(ip);
    const hbone = entry.hbone;
    if (hbone) {
      hbone.drain();
      // Its ping timer goes once the last session that was still finishing has closed.
      void hbone.closed().then(() => {
        hbone.destroy();
      });
    }
    void closeServer(entry.plaintext);
    if (entry.hbone) this.releaseIdentity(entry.identity);
    this.options.logger.info({ ip, uid: entry.uid }, 'workload left this node: listeners drained');
  }

  private useIdentity(identity: string): void {
    const users = this.identityUsers.get(identity) ?? 0;
    if (users === 0) this.options.certificates.track(identity);
    this.identityUsers.set(identity, users + 1);
  }

  private releaseIdentity(identity: string): void {
    const users = (this.identityUsers.get(identity) ?? 1) - 1;
    if (users > 0) {
      this.identityUsers.set(identity, users);
      return;
    }
    this.identityUsers.delete(identity);
    this.options.certificates.untrack(identity);
  }
}

function sameMode(workload: Workload, entry: IpListeners): boolean {
  return (workload.tunnelProtocol === 'HBONE') === (entry.hbone !== undefined);
}
