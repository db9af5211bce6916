import net from 'node:net';
import { Server as HttpServer } from 'node:http';
import { closeServer, createLogger, errorMessage, listenOn, type Logger } from '@ambient/core';
import { HbonePool, type HboneServer } from '@ambient/hbone';
import type { ZdsClient } from '@ambient/redirect';
import { ProxyState } from '@ambient/state';
import { Metrics } from '@ambient/telemetry';
import { createHttpServer, json, loggingRoute, metricsRoutes, readinessRoutes, text } from './admin.js';
import { createCertificateSource, type CertificateDump, type CertificateSource } from './certificates.js';
import { internalPorts, type ZtunnelConfig } from './config.js';
import type { InpodDump, InpodManager } from './inpod/inpod-manager.js';
import { InboundProxy } from './proxy/inbound.js';
import { InboundAuthorizer } from './proxy/inbound-authorization.js';
import { InboundPassthroughProxy } from './proxy/inbound-passthrough.js';
import { ConnectionTracker, type ProxyInputs } from './proxy/inputs.js';
import { OutboundProxy } from './proxy/outbound.js';
import { startStateSource, type StateSource } from './state-source.js';
import { WorkloadListeners } from './workload-listeners.js';

/** The inbound listeners of the node's workloads: per workload IP on the host, or in each pod (in-pod). */
interface InboundListeners {
  serversFor(identity: string): Pick<HboneServer, 'setCertificate'>[];
  /** Stop accepting; open connections carry on. */
  drain(): void;
  destroy(): void;
}

export interface StartOptions {
  readonly logger?: Logger;
  /** Called when an operator asks the process to stop (`/quitquitquit`). */
  readonly onQuitRequest?: () => void;
}

export interface Ztunnel {
  readonly config: ZtunnelConfig;
  readonly state: ProxyState;
  readonly metrics: Metrics;
  readonly pool: HbonePool;
  readonly logger: Logger;
  /** Live proxied connections. */
  readonly connections: ConnectionTracker;
  /**
   * Graceful shutdown: stop accepting, GOAWAY every HBONE session, let open connections finish,
   * close what is left at the termination deadline. Resolves when everything is closed;
   * calling it again returns the same promise.
   */
  shutdown(): Promise<void>;
}

/**
 * The composition root: loads config and certificates, binds every listener (a taken port fails
 * startup), and reports ready only after all of that worked.
 */
export async function startZtunnel(config: ZtunnelConfig, options: StartOptions = {}): Promise<Ztunnel> {
  const logger =
    options.logger ??
    createLogger({ level: config.logLevel, base: { component: 'ztunnel', node: config.nodeName } });
  const pending = new Set([
    'config',
    'certificates',
    'listeners',
    ...(config.inpod.enabled ? ['inpod'] : []),
  ]);
  const metrics = new Metrics();
  const connections = new ConnectionTracker();
  const servers: net.Server[] = [];
  const bind = async (server: net.Server, host: string, port: number, what: string): Promise<void> => {
    await listenOn(server, host, port, what);
    servers.push(server);
  };
  let pool: HbonePool | undefined;
  let certificates: CertificateSource | undefined;
  let listeners: InboundListeners | undefined;
  let zds: ZdsClient | undefined;
  let stopStateSource: (() => void) | undefined;
  const closeAll = (): void => {
    for (const server of servers) server.close();
    void zds?.stop();
    listeners?.destroy();
    pool?.destroy();
    certificates?.close();
    stopStateSource?.();
  };

  try {
    // Readiness first, so an orchestrator sees "not ready" rather than nothing during startup.
    const readiness = createHttpServer(
      readinessRoutes(() => [...pending]),
      logger,
    );
    await bind(readiness, config.instanceIp, config.ports.readiness, 'readiness');

    const state = new ProxyState(undefined, {
      onListenerError: (error) => {
        logger.error({ error: errorMessage(error) }, 'a state change listener failed');
      },
    });
    const source = createCertificateSource(config, logger, metrics.registry);
    certificates = source;
    const stateSource = await startStateSource(config, state, logger, metrics.registry);
    stopStateSource = () => {
      stateSource.close();
    };
    pool = new HbonePool({
      certificates: source,
      logger,
      maxStreamsPerConnection: config.poolMaxStreamsPerConnection,
      idleTimeoutMs: config.poolUnusedReleaseTimeoutMs,
    });
    const selfIps = new Set([config.instanceIp]);
    const inputs: ProxyInputs = {
      config,
      state,
      certificates: source,
      pool,
      metrics,
      logger,
      connections,
      authorizer: new InboundAuthorizer(state, logger),
      internalPorts: internalPorts(config),
      selfIps,
    };
    // In-pod, every pod gets its own listeners inside its namespace; none open on the host.
    const workloadListeners = config.inpod.enabled
      ? undefined
      : new WorkloadListeners({
          config,
          state,
          certificates: source,
          logger,
          onHboneStream: new InboundProxy(inputs).handle,
          onPlaintext: new InboundPassthroughProxy(inputs).handle,
          selfIps,
        });
    // Loaded only in in-pod mode: the native addon and ZDS are not needed (nor paid for in memory) otherwise.
    let inpod: InpodManager | undefined;
    if (config.inpod.enabled) {
      const [{ InpodManager }, { PodStarter }] = await Promise.all([
        import('./inpod/inpod-manager.js'),
        import('./inpod/pod-starter.js'),
      ]);
      inpod = new InpodManager({
        startPod: new PodStarter(inputs, source, config.inpod.mark).start,
        drainDeadlineMs: config.terminationDeadlineMs,
        inSnapshot: () => zds?.synced !== true,
        logger,
      });
    }
    const inbound: InboundListeners | undefined = inpod ?? workloadListeners;
    listeners = inbound;

    let shutdownPromise: Promise<void> | undefined;
    const ztunnel: Ztunnel = {
      config,
      state,
      metrics,
      pool,
      logger,
      connections,
      shutdown: () => (shutdownPromise ??= drain(ztunnel, servers, inbound, zds, source, stateSource)),
    };

    const admin = createHttpServer(
      {
        '/': (_req, _url, res) => {
          text(res, 200, 'ztunnel admin: /config_dump /logging /quitquitquit\n');
        },
        '/config_dump': (_req, _url, res) => {
          json(res, 200, configDump(config, state, source.dump(), stateSource.status(), inpod?.dump()));
        },
        '/logging': loggingRoute(logger, config.logLevel),
        '/quitquitquit': (req, _url, res) => {
          if (req.method !== 'POST') {
            text(res, 405, 'use POST\n');
            return;
          }
          text(res, 200, 'shutdown now\n');
          (options.onQuitRequest ?? (() => void ztunnel.shutdown()))();
        },
      },
      logger,
    );
    await bind(admin, config.adminIp, config.ports.admin, 'admin');
    await bind(
      createHttpServer(metricsRoutes(metrics.registry), logger),
      config.instanceIp,
      config.ports.stats,
      'metrics',
    );

    // Not ready, and no listener open, until the first complete state is in: serving on half a
    // state (workloads without their policies) would let through what a policy denies.
    await stateSource.ready;
    pending.delete('config');
    // Every mesh identity on this node gets its certificate before its listener opens; a taken
    // port at startup fails the start.
    if (workloadListeners !== undefined) {
      await workloadListeners.reconcile(true);
      state.onChange(() => {
        void workloadListeners.reconcile();
      });
    }
    pending.delete('certificates');
    if (inpod !== undefined) {
      // Pods come from the node agent; each waits for its certificate before its listeners open.
      // Ready once the first snapshot is in: until then pods of this node may be missing.
      const { ZdsClient } = await import('@ambient/redirect');
      zds = new ZdsClient({ handler: inpod, path: config.inpod.udsPath, logger });
      zds.start();
      void inpod.firstSnapshot.then(() => pending.delete('inpod'));
    }
    if (config.socks5Enabled) {
      const outbound = new OutboundProxy(inputs);
      await bind(
        net.createServer({ allowHalfOpen: true, noDelay: true }, outbound.serveSocks5),
        config.instanceIp,
        config.ports.socks5,
        'SOCKS5',
      );
    }
    // A new certificate: new handshakes present it at once, open tunnels keep running, and pooled
    // sessions made with the old one are retired so the next connection dials with the new one.
    const retiringPool = pool;
    source.onRotate((identity, certificate) => {
      for (const hbone of inbound?.serversFor(identity) ?? []) hbone.setCertificate(certificate);
      retiringPool.retireIdentity(identity);
      logger.info({ identity, serial: certificate.serialNumber }, 'certificate rotated');
    });
    pending.delete('listeners');
    logger.info(
      {
        workloads: state.workloadsOnNode(config.nodeName).map((w) => `${w.namespace}/${w.name}`),
        admin: `${config.adminIp}:${String(config.ports.admin)}`,
      },
      'ztunnel ready',
    );
    return ztunnel;
  } catch (err) {
    closeAll();
    logger.error({ error: errorMessage(err) }, 'ztunnel failed to start');
    throw err;
  }
}

async function drain(
  ztunnel: Ztunnel,
  servers: net.Server[],
  inbound: InboundListeners | undefined,
  zds: ZdsClient | undefined,
  certificates: CertificateSource,
  stateSource: StateSource,
): Promise<void> {
  const { logger, connections, config, pool } = ztunnel;
  logger.info({ open: connections.size, deadlineMs: config.terminationDeadlineMs }, 'draining');
  // Listeners first: nothing new arrives while the old finishes. No more pods from the node agent
  // either: a restarted ztunnel gets them all again in its snapshot.
  for (const server of servers) server.close();
  await zds?.stop();
  inbound?.drain();
  stateSource.close();
  pool.close();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => {
      resolve('deadline');
    }, config.terminationDeadlineMs);
  });
  const outcome = await Promise.race([connections.idle().then(() => 'idle' as const), deadline]);
  clearTimeout(timer);
  if (outcome === 'deadline') {
    logger.warn({ open: connections.size }, 'drain deadline reached; closing remaining connections');
    connections.destroyAll();
    // Destroyed sockets report 'close' on a later tick; wait so every outcome is recorded first.
    await connections.idle();
  }
  inbound?.destroy();
  pool.destroy();
  certificates.close();
  for (const server of servers) if (server instanceof HttpServer) server.closeAllConnections();
  await Promise.all(servers.map(closeServer));
  logger.info('drained');
}

function configDump(
  config: ZtunnelConfig,
  state: ProxyState,
  certificates: CertificateDump[],
  stateSource: unknown,
  inpod: InpodDump | undefined,
): unknown {
  return {
    config,
    stateSource,
    workloads: state.workloads().map((w) => ({
      ...w,
      services: Object.fromEntries([...w.services].map(([k, v]) => [k, Object.fromEntries(v)])),
    })),
    services: state.services(),
    policies: state.authorizations(),
    certificates,
    ...(inpod === undefined ? {} : { inpod }),
  };
}
