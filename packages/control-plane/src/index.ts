export {
  CertificateAuthority,
  DEFAULT_WORKLOAD_CERT_TTL_SECONDS,
  MAX_WORKLOAD_CERT_TTL_SECONDS,
  type CertificateAuthorityOptions,
  type ServingCertificate,
  type ServingNames,
  type SignRefusalReason,
  type SignResult,
} from './ca/authority.js';
export {
  bearerToken,
  parseTokenList,
  StaticTokenAuthenticator,
  type Authenticator,
  type Caller,
  type StaticToken,
} from './ca/authn.js';
export {
  authorizeIdentity,
  workloadDirectoryFromState,
  type AuthorizationDecision,
  type WorkloadDirectory,
} from './ca/authz.js';
export { checkCsr, type CheckedCsr, type CsrCheck } from './ca/csr.js';
export { CaMetrics } from './ca/metrics.js';
export {
  CA_PORT,
  IMPERSONATED_IDENTITY_KEY,
  ISTIOD_DNS_NAMES,
  startCaServer,
  type CaServer,
  type CaServerOptions,
} from './ca/server.js';
export {
  ADDITIONAL_ROOTS_FILE,
  CA_CERT_CHAIN_FILE,
  CA_CERT_FILE,
  CA_KEY_FILE,
  CA_ROOT_CERT_FILE,
  loadOrCreateSelfSigned,
  loadSigningMaterial,
  type SelfSignedOptions,
  type SigningMaterial,
} from './ca/signing-material.js';
export {
  ISTIO_CA_AUDIENCE,
  KubernetesTokenReviewAuthenticator,
  type TokenReviewOptions,
} from './ca/token-review.js';
export { startControlPlane, type ControlPlane, type ControlPlaneDeps } from './app.js';
export { parseConfig, type ControlPlaneConfig } from './config.js';
export {
  KubernetesSource,
  kubeConfigForServer,
  kubeConfigFromEnvironment,
  type KubernetesSourceOptions,
} from './sources/kubernetes.js';
export {
  convertMesh,
  DEFAULT_CONVERT_OPTIONS,
  type ConversionResult,
  type ConvertOptions,
} from './convert/index.js';
export { FolderSource, type FolderSourceOptions } from './sources/folder.js';
export type { ConfigSource, KubeObject, SourceObject, SourceProblem } from './sources/source.js';
