import net from 'node:net';
import { Server as HttpServer } from 'node:http';
import { closeServer, createLogger, errorMessage, listenOn, type Logger } from '@ambient/core';
import { CertificateDirectory } from '@ambient/identity';
import { HbonePool, HboneServer } from '@ambient/hbone';
import { loadLocalConfig, ProxyState } from '@ambient/state';
import { Metrics } from '@ambient/telemetry';
import { createHttpServer, json, loggingRoute, metricsRoutes, readinessRoutes, text } from './admin.js';
import { internalPorts, type ZtunnelConfig } from './config.js';
import { InboundProxy } from './proxy/inbound.js';
import { InboundPassthroughProxy } from './proxy/inbound-passthrough.js';
import { ConnectionTracker, type ProxyInputs } from './proxy/inputs.js';
import { OutboundProxy } from './proxy/outbound.js';

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
  const pending = new Set(['config', 'listeners']);
  const metrics = new Metrics();
  const connections = new ConnectionTracker();
  const servers: net.Server[] = [];
  const hboneServers: HboneServer[] = [];
  const bind = async (server: net.Server, host: string, port: number, what: string): Promise<void> => {
    await listenOn(server, host, port, what);
    servers.push(server);
  };
  let pool: HbonePool | undefined;
  const closeAll = (): void => {
    for (const server of servers) server.close();
    for (const hbone of hboneServers) hbone.destroy();
    pool?.destroy();
  };

  try {
    // Readiness first, so an orchestrator sees "not ready" rather than nothing during startup.
    const readiness = createHttpServer(
      readinessRoutes(() => [...pending]),
      logger,
    );
    await bind(readiness, config.instanceIp, config.ports.readiness, 'readiness');

    const state = new ProxyState(await loadLocalConfig(config.localXdsPath));
    const certificates = CertificateDirectory.load(config.certsDir);
    pending.delete('config');
    pool = new HbonePool({
      certificates,
      logger,
      maxStreamsPerConnection: config.poolMaxStreamsPerConnection,
      idleTimeoutMs: config.poolUnusedReleaseTimeoutMs,
    });
    const localWorkloads = state.workloadsOnNode(config.nodeName);
    const inputs: ProxyInputs = {
      config,
      state,
      certificates,
      pool,
      metrics,
      logger,
      connections,
      internalPorts: internalPorts(config),
      selfIps: new Set([config.instanceIp, ...localWorkloads.flatMap((w) => w.workloadIps)]),
    };

    let shutdownPromise: Promise<void> | undefined;
    const ztunnel: Ztunnel = {
      config,
      state,
      metrics,
      pool,
      logger,
      connections,
      shutdown: () => (shutdownPromise ??= drain(ztunnel, servers, hboneServers)),
    };

    const admin = createHttpServer(
      {
        '/': (_req, _url, res) => {
          text(res, 200, 'ztunnel admin: /config_dump /logging /quitquitquit\n');
        },
        '/config_dump': (_req, _url, res) => {
          json(res, 200, configDump(config, state, certificates));
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

    const inbound = new InboundProxy(inputs);
    const passthrough = new InboundPassthroughProxy(inputs);
    for (const workload of localWorkloads) {
      for (const ip of workload.workloadIps) {
        if (workload.tunnelProtocol === 'HBONE') {
          const certificate = certificates.certificateFor(workload.identity);
          if (!certificate) {
            throw new Error(
              `no certificate for ${workload.identity} (workload ${workload.namespace}/${workload.name}) in ${config.certsDir}`,
            );
          }
          hboneServers.push(
            await HboneServer.listen({
              host: ip,
              port: config.ports.hbone,
              certificate,
              logger,
              onStream: inbound.handle,
            }),
          );
        }
        await bind(
          net.createServer({ allowHalfOpen: true, noDelay: true }, passthrough.handle),
          ip,
          config.ports.inboundPlaintext,
          `inbound plaintext (${workload.namespace}/${workload.name})`,
        );
      }
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
    pending.delete('listeners');
    logger.info(
      {
        workloads: localWorkloads.map((w) => `${w.namespace}/${w.name}`),
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

async function drain(ztunnel: Ztunnel, servers: net.Server[], hboneServers: HboneServer[]): Promise<void> {
  const { logger, connections, config, pool } = ztunnel;
  logger.info({ open: connections.size, deadlineMs: config.terminationDeadlineMs }, 'draining');
  // Listeners first: nothing new arrives while the old finishes.
  for (const server of servers) server.close();
  for (const hbone of hboneServers) hbone.drain();
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
  for (const hbone of hboneServers) hbone.destroy();
  pool.destroy();
  for (const server of servers) if (server instanceof HttpServer) server.closeAllConnections();
  await Promise.all(servers.map(closeServer));
  logger.info('drained');
}

function configDump(config: ZtunnelConfig, state: ProxyState, certificates: CertificateDirectory): unknown {
  return {
    config,
    workloads: state.workloads().map((w) => ({
      ...w,
      services: Object.fromEntries([...w.services].map(([k, v]) => [k, Object.fromEntries(v)])),
    })),
    services: state.services(),
    certificates: certificates.list().map((cert) => ({
      identity: cert.identityUri,
      state: cert.notAfter.getTime() > Date.now() ? 'Available' : 'Unavailable: expired',
      serialNumber: cert.serialNumber,
      validFrom: cert.notBefore.toISOString(),
      expirationTime: cert.notAfter.toISOString(),
    })),
  };
}
