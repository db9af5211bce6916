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
