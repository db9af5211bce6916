import net, { type Socket } from 'node:net';
import { errorMessage, normalizeIp } from '@ambient/core';
import { HboneServer } from '@ambient/hbone';
import type { WorkloadCertificate } from '@ambient/identity';
import type { FileIdentity, WorkloadInfo } from '@ambient/redirect';
import { DEFAULT_PORTS } from '../config.js';
import { InboundProxy } from '../proxy/inbound.js';
import { InboundPassthroughProxy } from '../proxy/inbound-passthrough.js';
import { ConnectionTracker, type ProxyInputs } from '../proxy/inputs.js';
import { OutboundProxy } from '../proxy/outbound.js';
import { capturedDestination } from './captured-destination.js';
import type { PodNetwork } from './pod-network.js';
import { PodWorkload } from './pod-workload.js';

export interface PodProxyOptions {
  readonly uid: string;
  readonly info: WorkloadInfo;
  /** The pod's SPIFFE identity; `certificate` is its certificate, presented on the pod's 15008. */
  readonly identity: string;
  readonly certificate: WorkloadCertificate;
  readonly network: PodNetwork;
  readonly inputs: ProxyInputs;
  /** Called once, when the pod's proxy is destroyed (after a drain, or at once). */
  readonly onDestroyed?: () => void;
}

/** One row of `/config_dump`'s `inpod.pods`. */
export interface PodProxyDump {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly identity: string;
  /** The workload the state knows the pod as; absent while it does not. */
  readonly workloadUid?: string;
  readonly workloadIps: readonly string[];
  /** `<dev>:<inode>` of the pod's network namespace. */
  readonly netnsInode: string;
  readonly state: 'serving' | 'draining';
  readonly listeners: readonly { readonly role: string; readonly address: string }[];
  readonly connections: number;
}

type ListenerRole = 'outbound' | 'inbound plaintext' | 'inbound HBONE';

/**
 * ztunnel's proxy for one enrolled pod: three listeners made inside the pod's network namespace
 * (15001 captured outbound, 15006 captured inbound plaintext, 15008 HBONE), the outbound and
 * inbound proxies wired to dial from inside the pod, and the pod's own connections, so that
 * removing the pod drains exactly them.
 */
export class PodProxy {
  readonly uid: string;
  readonly identity: string;
  readonly network: PodNetwork;
  private readonly info: WorkloadInfo;
  private readonly inputs: ProxyInputs;
  private readonly workload: PodWorkload;
  private readonly tracker: ConnectionTracker;
  private readonly outbound: OutboundProxy;
  private readonly servers: net.Server[] = [];
  private readonly listeners: { role: ListenerRole; address: string }[] = [];
  private readonly onDestroyed: (() => void) | undefined;
  private hbone: HboneServer | undefined;
  private draining = false;
  private destroyed = false;

  private constructor(options: PodProxyOptions) {
    const { inputs, network, info } = options;
    this.uid = options.uid;
    this.identity = options.identity;
    this.network = network;
    this.info = info;
    this.onDestroyed = options.onDestroyed;
    this.tracker = new ConnectionTracker(inputs.connections);
    this.inputs = { ...inputs, connections: this.tracker };
    this.workload = new PodWorkload({
      state: inputs.state,
      clusterId: inputs.config.clusterId,
      trustDomain: inputs.config.trustDomain,
      nodeName: inputs.config.nodeName,
      info,
    });
    const workload = this.workload;
    this.outbound = new OutboundProxy(this.inputs, {
      connectTcp: (address) => network.connect(address),
      hboneDialer: network.hboneDialer,
      // The pod's loopback is never captured: a loopback destination reached 15001 by dialling it.
      selfIps: { has: (ip) => isLoopback(ip) || workload.ownsIp(ip) },
    });
  }

  /**
   * Opens the pod's listeners. On failure everything opened is closed again and the error thrown;
   * the namespace fd is left open (the caller still owns it then).
   */
  static async start(options: PodProxyOptions): Promise<PodProxy> {
    const pod = new PodProxy(options);
    try {
      await pod.open(options.certificate);
    } catch (err) {
      pod.closeListeners();
      pod.hbone?.destroy();
      throw err;
    }
    return pod;
  }

  isSameNamespace(netns: FileIdentity): boolean {
    return this.network.isSameNamespace(netns);
  }

  get connections(): number {
    return this.tracker.size;
  }

  /** The pod's HBONE server, for certificate rotation. */
  get hboneServer(): HboneServer | undefined {
    return this.hbone;
  }

  /**
   * Stop taking new connections: listeners close, HBONE clients get GOAWAY, pooled sessions
   * dialled from the pod are retired. Open connections carry on.
   */
  stopAccepting(): void {
    if (this.draining) return;
    this.draining = true;
    this.closeListeners();
    this.hbone?.drain();
    this.inputs.pool.retireDialer(this.network.hboneDialer.name);
  }

  /**
   * Graceful removal: stop accepting, let open connections finish until `deadlineMs`, close
   * what is left, then release everything (the namespace fd last).
   */
  async drain(deadlineMs: number): Promise<void> {
    this.stopAccepting();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => {
        resolve('deadline');
      }, deadlineMs);
      timer.unref();
    });
    const outcome = await Promise.race([this.tracker.idle().then(() => 'idle' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      this.inputs.logger.info(
        { uid: this.uid, open: this.tracker.size },
        'pod drain deadline reached; closing its remaining connections',
      );
      this.tracker.destroyAll();
      await this.tracker.idle();
    }
    this.destroy();
  }

  /** Closes everything now, open connections included. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.stopAccepting();
    this.hbone?.destroy();
    this.tracker.destroyAll();
    this.network.close();
    this.onDestroyed?.();
  }

  dump(): PodProxyDump {
    const known = this.workload.known();
    const { dev, ino } = this.network.netns;
    return {
      uid: this.uid,
      name: this.info.name,
      namespace: this.info.namespace,
      serviceAccount: this.info.serviceAccount,
      identity: this.identity,
      ...(known === undefined ? {} : { workloadUid: known.uid }),
      workloadIps: known?.workloadIps ?? [],
      netnsInode: `${String(dev)}:${String(ino)}`,
      state: this.draining ? 'draining' : 'serving',
      listeners: this.listeners.map((listener) => ({ ...listener })),
      connections: this.tracker.size,
    };
  }

  private async open(certificate: WorkloadCertificate): Promise<void> {
    const { inputs, network, workload } = this;
    const ports = inputs.config.ports;
    const passthrough = new InboundPassthroughProxy(inputs, capturedDestination, {
      destinationWorkload: (target) => {
        const known = workload.known();
        return known?.workloadIps.includes(target.ip) === true ? known : undefined;
      },
      connectApp: network.connectApp,
    });
    const inbound = new InboundProxy(inputs, {
      // The pod is the one whose namespace the stream arrived in, whatever address it used.
      destinationWorkload: () => workload.known(),
      acceptsIp: (known, ip) => known.workloadIps.includes(ip),
      connectApp: network.connectApp,
    });
    await this.listen('outbound', DEFAULT_PORTS.outbound, this.onOutbound);
    await this.listen('inbound plaintext', ports.inboundPlaintext, passthrough.handle);
    this.hbone = await HboneServer.listen({
      certificate,
      logger: inputs.logger,
      onStream: inbound.handle,
      bind: async (server) => {
        const address = await network.listen(server, ports.hbone);
        this.listeners.push({ role: 'inbound HBONE', address });
      },
    });
  }

  private async listen(
    role: ListenerRole,
    port: number,
    onConnection: (socket: Socket) => void,
  ): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
    this.servers.push(server);
    const address = await this.network.listen(server, port);
    // Later errors (EMFILE on accept) must not crash the process; the listener keeps going.
    server.on('error', (err) => {
      this.inputs.logger.warn({ uid: this.uid, role, error: err.message }, 'in-pod listener error');
    });
    this.listeners.push({ role, address });
  }

  private closeListeners(): void {
    for (const server of this.servers) server.close();
  }

  /** A connection the pod's rules sent to 15001: its source is this pod, its target the original destination. */
  private readonly onOutbound = (client: Socket): void => {
    client.on('error', noop);
    const target = capturedDestination(client);
    const source = this.workload.source(normalizeIp(client.remoteAddress ?? ''));
    this.outbound.forward(client, source, target).catch((err: unknown) => {
      this.inputs.logger.error(
        { uid: this.uid, error: errorMessage(err) },
        'in-pod outbound connection failed unexpectedly',
      );
      client.destroy();
    });
  };
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

function noop(): void {
  // Errors are the forward path's to report; this only keeps them from being uncaught.
}
