import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '@ambient/core';
import { loadLocalConfig, ProxyState } from '@ambient/state';
import { CertificateAuthority } from './ca/authority.js';
import { StaticTokenAuthenticator } from './ca/authn.js';
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

export interface ControlPlane {
  readonly authority: CertificateAuthority;
  readonly caServer: CaServer;
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
  // Read once at startup; a change to the file needs a restart for now.
  const state = new ProxyState(
    config.localXdsPath === undefined ? undefined : await loadLocalConfig(config.localXdsPath),
  );
  const caServer = await startCaServer({
    host: config.caListen.ip,
    port: config.caListen.port,
    authority,
    authenticator,
    workloads: workloadDirectoryFromState(state),
    logger,
  });
  return { authority, caServer, rootCertPath, close: () => caServer.close() };
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
