export {
  parseIdentity,
  formatIdentity,
  firstIdentity,
  urisFromSubjectAltName,
  type Identity,
} from './spiffe.js';
export { WorkloadCertificate, type CertificateMaterial } from './certificate.js';
export {
  HBONE_ALPN,
  EXPECTED_SAN_MISMATCH,
  clientTlsOptions,
  serverTlsOptions,
  verifyClientIdentity,
  peerIdentity,
} from './tls.js';
export {
  CertificateDirectory,
  ROOT_CERT_FILE,
  WORKLOADS_DIR,
  CERT_CHAIN_FILE,
  KEY_FILE,
  type CertificateProvider,
} from './store.js';
export { createCsr, type CertificateSigningRequest } from './csr.js';
export { CaClient, DEFAULT_CA_SERVER_NAME, type CaClientOptions } from './ca-client.js';
export {
  SecretManager,
  DEFAULT_MAX_CONCURRENT_CSRS,
  DEFAULT_CSR_BACKOFF_INITIAL_MS,
  DEFAULT_CSR_BACKOFF_MAX_MS,
  DEFAULT_CSR_BACKOFF_JITTER,
  type CertificateFetcher,
  type CertificateState,
  type CertificateStateName,
  type RotateListener,
  type SecretManagerOptions,
  type SecretManagerBackoffOptions,
} from './secret-manager.js';
