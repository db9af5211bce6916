import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TestPki } from '@ambient/testing';

/*
 * One throwaway PKI per bench run, shared by every path: the ztunnels read it in their own layout,
 * and stunnel and HAProxy use the very same ECDSA P-256 keys and chains, so all mTLS paths do the
 * same cryptography with the same certificates.
 */

export interface PeerCertificate {
  /** Leaf then intermediate (what a server or client presents). */
  readonly chainPath: string;
  /** PKCS#8 private key. */
  readonly keyPath: string;
  /** Chain followed by the key, in one file: HAProxy's `crt`. */
  readonly combinedPath: string;
}

export interface BenchPki {
  /** root-cert.pem and workloads/<ns>/<sa>/{cert-chain.pem,key.pem}: ztunnel's WORKLOAD_CERTS_DIR. */
  readonly certsDir: string;
  readonly rootPath: string;
  readonly rootPem: string;
  /** Identity `default/client`: the client side of every path. */
  readonly client: PeerCertificate;
  /** Identity `default/server`: the server side of every path. */
  readonly server: PeerCertificate;
}

export const CLIENT_IDENTITY = { namespace: 'default', serviceAccount: 'client' } as const;
export const SERVER_IDENTITY = { namespace: 'default', serviceAccount: 'server' } as const;

export async function writeBenchPki(dir: string): Promise<BenchPki> {
  const pki = await TestPki.create();
  const certsDir = join(dir, 'certs');
  await pki.writeCertificateDir(certsDir, [CLIENT_IDENTITY, SERVER_IDENTITY]);
  const peer = async (serviceAccount: string): Promise<PeerCertificate> => {
    const workloadDir = join(certsDir, 'workloads', 'default', serviceAccount);
    const chainPath = join(workloadDir, 'cert-chain.pem');
    const keyPath = join(workloadDir, 'key.pem');
    const combinedPath = join(workloadDir, 'combined.pem');
    const chain = await readFile(chainPath, 'utf8');
    const key = await readFile(keyPath, 'utf8');
    await writeFile(combinedPath, chain + key, { mode: 0o600 });
    return { chainPath, keyPath, combinedPath };
  };
  return {
    certsDir,
    rootPath: join(certsDir, 'root-cert.pem'),
    rootPem: pki.rootCertPem,
    client: await peer(CLIENT_IDENTITY.serviceAccount),
    server: await peer(SERVER_IDENTITY.serviceAccount),
  };
}
