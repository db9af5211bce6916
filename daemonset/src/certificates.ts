import { readFileSync } from 'node:fs';
import { Counter, type Registry } from 'prom-client';
import { ErrorCode, MeshError, type Logger } from '@ambient/core';
import {
  CaClient,
  CertificateDirectory,
  SecretManager,
  type CertificateProvider,
  type WorkloadCertificate,
} from '@ambient/identity';
import type { ZtunnelConfig } from './config.js';

/** One row of /config_dump's `certificates`, in ztunnel's shape. */
export interface CertificateDump {
  readonly identity: string;
  readonly state: string;
  readonly serialNumber?: string;
  readonly validFrom?: string;
  readonly expirationTime?: string;
}

/**
 * Where workload certificates come from: files (tests, static setups) or a CA over gRPC, which
 * issues, refreshes at half-life and rotates them. The ztunnel sees one interface either way.
 */
export interface CertificateSource extends CertificateProvider {
  /** Keep a certificate for this identity (a workload with it runs on this node). */
  track(identityUri: string): void;
  untrack(identityUri: string): void;
  /** The certificate, fetching it first if needed. */
  ready(identityUri: string): Promise<WorkloadCertificate>;
  /** Called after every new certificate; returns unsubscribe. */
  onRotate(listener: (identityUri: string, certificate: WorkloadCertificate) => void): () => void;
  dump(): CertificateDump[];
  close(): void;
}

export function createCertificateSource(
  config: ZtunnelConfig,
  logger: Logger,
  registry: Registry,
): CertificateSource {
  return config.caAddress === undefined
    ? new FileCertificateSource(CertificateDirectory.load(config.certsDir))
    : new CaCertificateSource(config, logger, registry);
}

function describe(identity: string, state: string, cert: WorkloadCertificate | undefined): CertificateDump {
  return cert
    ? {
        identity,
        state,
        serialNumber: cert.serialNumber,
        validFrom: cert.notBefore.toISOString(),
        expirationTime: cert.notAfter.toISOString(),
      }
    : { identity, state };
}

class FileCertificateSource implements CertificateSource {
  constructor(private readonly directory: CertificateDirectory) {}

  certificateFor(identityUri: string): WorkloadCertificate | undefined {
    return this.directory.certificateFor(identityUri);
  }

  track(): void {
    // Files hold every certificate already.
  }

  untrack(): void {
    // Nothing to forget.
  }

  ready(identityUri: string): Promise<WorkloadCertificate> {
    const cert = this.directory.certificateFor(identityUri);
    return cert
      ? Promise.resolve(cert)
      : Promise.reject(
          new MeshError(ErrorCode.CertMissing, `no certificate for ${identityUri} in the certificate folder`),
        );
  }

  onRotate(): () => void {
    return () => undefined;
  }

  dump(): CertificateDump[] {
    return this.directory
      .list()
      .map((cert) =>
        describe(
          cert.identityUri,
          cert.notAfter.getTime() > Date.now() ? 'Available' : 'Unavailable: expired',
          cert,
        ),
      );
  }

  close(): void {
    // No timers or channels.
  }
}

class CaCertificateSource implements CertificateSource {
  private readonly client: CaClient;
  private readonly manager: SecretManager;

  constructor(config: ZtunnelConfig, logger: Logger, registry: Registry) {
    this.client = new CaClient({
      address: config.caAddress ?? '',
      rootCertPem: readFileSync(config.caRootCertPath, 'utf8'),
      ...(config.authTokenPath === undefined ? {} : { tokenPath: config.authTokenPath }),
      clusterId: config.clusterId,
      ...(config.caServerName === undefined ? {} : { serverName: config.caServerName }),
      // One ztunnel asks for the identities of every workload on its node.
      impersonate: true,
    });
    this.manager = new SecretManager({ client: this.client, ttlSeconds: config.secretTtlSeconds, logger });
    const manager = this.manager;
    // Read at scrape time from the manager's own counters, so nothing on the CSR path changes.
    new Counter({
      name: 'istio_ztunnel_certificate_requests_total',
      help: 'Certificate signing requests sent to the CA, by result (unstable).',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        this.reset();
        this.labels({ result: 'success' }).inc(manager.issued);
        this.labels({ result: 'failure' }).inc(manager.failed);
      },
    });
  }

  certificateFor(identityUri: string): WorkloadCertificate | undefined {
    return this.manager.certificateFor(identityUri);
  }

  track(identityUri: string): void {
    this.manager.track(identityUri);
  }

  untrack(identityUri: string): void {
    this.manager.untrack(identityUri);
  }

  ready(identityUri: string): Promise<WorkloadCertificate> {
    return this.manager.waitForCertificate(identityUri);
  }

  onRotate(listener: (identityUri: string, certificate: WorkloadCertificate) => void): () => void {
    return this.manager.onRotate(listener);
  }

  dump(): CertificateDump[] {
    return this.manager.states().map((s) => describe(s.identity, s.state, s.certificate));
  }

  close(): void {
    this.manager.close();
    this.client.close();
  }
}
