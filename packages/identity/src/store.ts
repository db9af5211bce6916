import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, MeshError, errorMessage, isMeshError } from '@ambient/core';
import { WorkloadCertificate } from './certificate.js';

/** Where a proxy gets the certificate to present for one of its workloads' identities. */
export interface CertificateProvider {
  certificateFor(identityUri: string): WorkloadCertificate | undefined;
}

export const ROOT_CERT_FILE = 'root-cert.pem';
export const WORKLOADS_DIR = 'workloads';
export const CERT_CHAIN_FILE = 'cert-chain.pem';
export const KEY_FILE = 'key.pem';

/**
 * Certificates from a folder (the local mode, no CA): `root-cert.pem` and
 * `workloads/<namespace>/<serviceAccount>/{cert-chain.pem,key.pem}`, as `make-test-certs` writes.
 * Loaded once, synchronously, at startup; every problem names the file it is about.
 */
export class CertificateDirectory implements CertificateProvider {
  private constructor(private readonly byIdentity: ReadonlyMap<string, WorkloadCertificate>) {}

  static load(dir: string): CertificateDirectory {
    const rootsPath = join(dir, ROOT_CERT_FILE);
    const rootsPem = readText(rootsPath);
    const workloadsPath = join(dir, WORKLOADS_DIR);
    const byIdentity = new Map<string, WorkloadCertificate>();
    for (const namespace of subdirectories(workloadsPath)) {
      for (const serviceAccount of subdirectories(join(workloadsPath, namespace))) {
        const certificate = loadWorkload(join(workloadsPath, namespace, serviceAccount), rootsPem, rootsPath);
        const { identity } = certificate;
        if (identity.namespace !== namespace || identity.serviceAccount !== serviceAccount) {
          throw new MeshError(
            ErrorCode.IdentityInvalid,
            `${join(workloadsPath, namespace, serviceAccount, CERT_CHAIN_FILE)}: the certificate is for ${certificate.identityUri}, not namespace "${namespace}" service account "${serviceAccount}"`,
          );
        }
        byIdentity.set(certificate.identityUri, certificate);
      }
    }
    return new CertificateDirectory(byIdentity);
  }

  certificateFor(identityUri: string): WorkloadCertificate | undefined {
    return this.byIdentity.get(identityUri);
  }

  list(): WorkloadCertificate[] {
    return [...this.byIdentity.values()];
  }
}

function loadWorkload(workloadPath: string, rootsPem: string, rootsPath: string): WorkloadCertificate {
  const chainPath = join(workloadPath, CERT_CHAIN_FILE);
  const keyPath = join(workloadPath, KEY_FILE);
  const certChainPem = readText(chainPath);
  const keyPem = readText(keyPath);
  try {
    return WorkloadCertificate.fromPem({ certChainPem, keyPem, rootsPem });
  } catch (err) {
    const code = isMeshError(err) ? err.code : ErrorCode.CertMissing;
    throw new MeshError(code, `${chainPath} (with ${keyPath} and ${rootsPath}): ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new MeshError(ErrorCode.CertMissing, `${path}: cannot read: ${errorMessage(err)}`, { cause: err });
  }
}

/** Sorted, so that load order (and any error reported first) does not depend on the file system. */
function subdirectories(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch (err) {
    throw new MeshError(ErrorCode.CertMissing, `${path}: cannot list: ${errorMessage(err)}`, { cause: err });
  }
}
