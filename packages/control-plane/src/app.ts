import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, MeshError, formatSocketAddress, type Logger } from '@ambient/core';
import { loadLocalConfig, ProxyState } from '@ambient/state';
import { DeltaXdsServer } from '@ambient/xds';
import { Registry } from 'prom-client';
import { CertificateAuthority } from './ca/authority.js';
import { bearerToken, StaticTokenAuthenticator } from './ca/authn.js';
import { workloadDirectoryFromState } from './ca/authz.js';
import { writeAtomically } from './ca/files.js';
import { startCaServer, type CaServer } from './ca/server.js';
import {
  CA_ROOT_CERT_FILE,
  loadOrCreateSelfSigned,
  loadSigningMaterial,
  type SigningMaterial,
} from './ca/signing-material.js';
import type { ControlPlaneConfig } from './config.js';
import { MeshConfigController } from './mesh-config.js';
import { FolderSource } from './sources/folder.js';
import { KubernetesSource, kubeConfigFromEnvironment } from './sources/kubernetes.js';
import type { ConfigSource } from './sources/source.js';

export interface ControlPlane {
  readonly authority: CertificateAuthority;
  readonly caServer: CaServer;
  readonly xds: DeltaXdsServer;
  /** The mesh as converted from the config source: what xDS serves and the CA authorizes against. */
  readonly state: ProxyState;
  readonly mesh: MeshConfigController;
  /** Where plaintext xDS listens (loopback), if enabled. */
  readonly xdsPlaintextPort: number | undefined;
  readonly registry: Registry;
  /** Where clients find the trust bundle. */
  readonly rootCertPath: string;
  close(): Promise<void>;
}

export interface ControlPlaneDeps {
  readonly logger: Logger;
}

/** The composition root: signing material, authority, authentication, workloads, listener. */
export async function startControlPlane(
  config: ControlPlaneConfig,
  deps: ControlPlaneDeps,
): Promise<ControlPlane> {
  const { logger } = deps;
  const material: SigningMaterial =
    config.caCertsDir === undefined
      ? await loadOrCreateSelfSigned(config.caStateDir, { trustDomain: config.trustDomain })
      : await loadSigningMaterial(config.caCertsDir);
  const authority = await CertificateAuthority.create(material, {
    defaultTtlSeconds: config.defaultWorkloadCertTtlSeconds,
    maxTtlSeconds: config.maxWorkloadCertTtlSeconds,
  });
  logger.info(
    { dir: material.dir, signer: material.caCert.subject, roots: authority.trustedRoots.length },
    config.caCertsDir === undefined
      ? 'CA signing with its self-signed root'
      : 'CA signing with plug-in certificates',
  );
  const rootCertPath = await publishTrustBundle(config, authority, logger);
  const authenticator = await StaticTokenAuthenticator.fromFile(config.caTokensFile);
  const registry = new Registry();
  const state = new ProxyState();
  // On 15012 a ztunnel proves who it is with the same token it gives the CA; on the loopback-only
  // plaintext port (istiod's 15010) nobody does, as with istiod.
  const xds = new DeltaXdsServer({
    logger,
    registry,
    authenticate: async (metadata) => {
      const token = bearerToken(metadata.get('authorization').find((value) => typeof value === 'string'));
      const caller = token === undefined ? undefined : await authenticator.authenticate(token);
      return caller === undefined
        ? { ok: false, message: 'xDS needs "authorization: Bearer <token>" with a known token' }
        : { ok: true };
    },
  });
  const mesh = new MeshConfigController({
    state,
    xds,
    logger,
    convert: {
      clusterId: config.clusterId,
      trustDomain: config.trustDomain,
      rootNamespace: config.rootNamespace,
      domainSuffix: config.domainSuffix,
    },
  });
  const source = configSource(config, logger);
  if (source) await mesh.start(source);
  else if (config.localXdsPath !== undefined)
    mesh.publishSnapshot(await loadLocalConfig(config.localXdsPath));
  else mesh.publishSnapshot({ workloads: [], services: [], authorizations: [] });

  const caServer = await startCaServer({
    host: config.caListen.ip,
    port: config.caListen.port,
    authority,
    authenticator,
    workloads: workloadDirectoryFromState(state),
    logger,
    registry,
    addServices: (server) => {
      xds.addTo(server);
    },
  });
  const plaintext =
    config.xdsPlaintextListen && (await startPlaintextXds(xds, config.xdsPlaintextListen, logger));
  return {
    authority,
    caServer,
    xds,
    state,
    mesh,
    registry,
    rootCertPath,
    xdsPlaintextPort: plaintext?.port,
    close: async () => {
      // Open xDS streams would hold both servers' graceful shutdown until its deadline.
      xds.close();
      await source?.close();
      await Promise.all([caServer.close(), plaintext?.close()]);
    },
  };
}

function configSource(config: ControlPlaneConfig, logger: Logger): ConfigSource | undefined {
  if (config.configDir !== undefined) return new FolderSource(config.configDir, { logger });
  if (config.kubernetes) return new KubernetesSource({ kubeConfig: kubeConfigFromEnvironment(), logger });
  return undefined;
}

async function startPlaintextXds(
  xds: DeltaXdsServer,
  address: { readonly ip: string; readonly port: number },
  logger: Logger,
): Promise<{ port: number; close: () => Promise<void> }> {
  const server = new grpc.Server();
  xds.addTo(server, { authenticate: false });
  const text = formatSocketAddress(address.ip, address.port);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(text, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err === null) resolve(bound);
      else
        reject(new MeshError(ErrorCode.ListenFailed, `plaintext xDS could not bind ${text}: ${err.message}`));
    });
  });
  logger.info({ address: formatSocketAddress(address.ip, port) }, 'plaintext xDS listening (loopback only)');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          resolve();
        });
      }),
  };
}

/**
 * root-cert.pem in the state folder: what clients (ztunnel's CA_ROOT_CA / XDS_ROOT_CA) trust.
 * Never written into a plug-in folder, whose root-cert.pem is the operator's input.
 */
async function publishTrustBundle(
  config: ControlPlaneConfig,
  authority: CertificateAuthority,
  logger: Logger,
): Promise<string> {
  const path = join(config.caStateDir, CA_ROOT_CERT_FILE);
  if (config.caCertsDir !== undefined && resolve(config.caCertsDir) === resolve(config.caStateDir)) {
    logger.warn({ path }, 'CA_STATE_DIR is the plug-in folder: its root-cert.pem is left as it is');
    return path;
  }
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current !== authority.trustBundle) {
    await mkdir(config.caStateDir, { recursive: true, mode: 0o700 });
    await writeAtomically(path, authority.trustBundle, 0o644);
  }
  return path;
}
