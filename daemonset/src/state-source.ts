import { readFileSync } from 'node:fs';
import { credentials, Metadata } from '@grpc/grpc-js';
import { parseSocketAddress, type Logger } from '@ambient/core';
import { DEFAULT_CA_SERVER_NAME } from '@ambient/identity';
import {
  addressFromResource,
  convertAuthorization,
  loadLocalConfig,
  XdsStateStore,
  type Authorization,
  type ProxyState,
  type Service,
  type Workload,
} from '@ambient/state';
import {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  DeltaXdsClient,
  ztunnelNode,
  type ResourceHandler,
} from '@ambient/xds';
import type { Registry } from 'prom-client';
import type { ZtunnelConfig, XdsConfig } from './config.js';

/** Where the proxy state comes from: a static file, or a control plane over Delta xDS. */
export interface StateSource {
  /** Resolves once the first complete state is applied (every xDS type received and ACKed). */
  readonly ready: Promise<void>;
  /** For /config_dump. */
  status(): unknown;
  close(): void;
}

export async function startStateSource(
  config: ZtunnelConfig,
  state: ProxyState,
  logger: Logger,
  registry: Registry,
): Promise<StateSource> {
  if (config.xds === undefined) {
    const path = config.localXdsPath ?? '';
    state.replace(await loadLocalConfig(path));
    return {
      ready: Promise.resolve(),
      status: () => ({ source: 'file', path }),
      close: () => undefined,
    };
  }
  return new XdsStateSource(config, config.xds, state, logger, registry);
}

/**
 * Workloads, services and policies from a control plane (istiod or ours). Each response is applied
 * as one swap of the whole state; a resource that does not convert is NACKed alone and the rest
 * applies; while the control plane is away the last good state keeps serving.
 */
class XdsStateSource implements StateSource {
  readonly ready: Promise<void>;
  private readonly client: DeltaXdsClient;
  private readonly store = new XdsStateStore();

  constructor(
    config: ZtunnelConfig,
    xds: XdsConfig,
    private readonly state: ProxyState,
    logger: Logger,
    registry: Registry,
  ) {
    const tokenPath = config.authTokenPath;
    // Built for every connection attempt, so a rotated token file is picked up on reconnect.
    const metadata = (): Metadata => {
      const headers = new Metadata();
      headers.set('clusterid', config.clusterId);
      if (tokenPath !== undefined)
        headers.set('authorization', `Bearer ${readFileSync(tokenPath, 'utf8').trim()}`);
      return headers;
    };
    // istiod's certificate names istiod.istio-system.svc, not an IP: an IP address is checked against
    // that name (as for the CA) unless ALT_XDS_HOSTNAME says otherwise.
    const serverName =
      xds.serverName ?? (parseSocketAddress(xds.address) === undefined ? undefined : DEFAULT_CA_SERVER_NAME);
    const addresses: ResourceHandler<Workload | Service> = {
      typeUrl: ADDRESS_TYPE_URL,
      decode: addressFromResource,
      apply: (update) => {
        this.store.applyAddresses(update);
        this.publish();
      },
    };
    const authorizations: ResourceHandler<Authorization> = {
      typeUrl: AUTHORIZATION_TYPE_URL,
      decode: (name, bytes) => convertAuthorization(name, bytes),
      apply: (update) => {
        this.store.applyAuthorizations(update);
        this.publish();
      },
    };
    this.client = new DeltaXdsClient({
      address: xds.address,
      credentials: xds.tls
        ? credentials.createSsl(readFileSync(xds.rootCertPath))
        : credentials.createInsecure(),
      ...(serverName === undefined || !xds.tls
        ? {}
        : {
            channelOptions: {
              'grpc.ssl_target_name_override': serverName,
              'grpc.default_authority': serverName,
            },
          }),
      metadata,
      node: ztunnelNode({
        instanceIp: config.instanceIp,
        podName: config.podName,
        podNamespace: config.podNamespace,
        nodeName: config.nodeName,
        clusterId: config.clusterId,
      }),
      handlers: [addresses, authorizations],
      logger,
      registry,
    });
    this.client.start();
    this.ready = this.client.ready;
  }

  status(): unknown {
    return { source: 'xds', ...this.client.status() };
  }

  close(): void {
    void this.client.close();
  }

  private publish(): void {
    this.state.replace(this.store.snapshot());
  }
}
