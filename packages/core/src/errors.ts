/**
 * Every failure the data plane reports carries a stable code. Callers match on
 * the code, never on the message; docs/errors.md lists every code and a test
 * keeps the two in step.
 */
export const ErrorCode = {
  /** Startup configuration is invalid; the message lists every problem. */
  ConfigInvalid: 'MESH_ERR_CONFIG_INVALID',
  /** A listener could not bind (port taken, address missing). */
  ListenFailed: 'MESH_ERR_LISTEN_FAILED',
  /** Local workload config (LOCAL_XDS_PATH) is invalid. */
  LocalConfigInvalid: 'MESH_ERR_STATE_LOCAL_CONFIG_INVALID',
  /** A SPIFFE identity string could not be parsed. */
  IdentityInvalid: 'MESH_ERR_IDENTITY_INVALID',
  /** No certificate is available for the identity that must present one. */
  CertMissing: 'MESH_ERR_IDENTITY_CERT_MISSING',
  /** The certificate authority refused, failed or answered a CSR with an unusable certificate. */
  CaRequestFailed: 'MESH_ERR_IDENTITY_CA_REQUEST_FAILED',
  /** The TLS handshake failed (untrusted chain, expired, protocol version). */
  TlsFailure: 'MESH_ERR_TLS_HANDSHAKE',
  /** The peer's certificate is valid but does not carry an expected identity. */
  IdentityMismatch: 'MESH_ERR_IDENTITY_MISMATCH',
  /** An HBONE request used a method other than CONNECT. */
  HboneBadMethod: 'MESH_ERR_HBONE_BAD_METHOD',
  /** An HBONE request's :authority is not ip:port / host:port. */
  HboneBadAuthority: 'MESH_ERR_HBONE_BAD_AUTHORITY',
  /** An HBONE request targets an IP other than the workload it arrived for. */
  HboneIpMismatch: 'MESH_ERR_HBONE_IP_MISMATCH',
  /** The workload an HBONE connection arrived for is unknown. */
  HboneUnknownWorkload: 'MESH_ERR_HBONE_UNKNOWN_WORKLOAD',
  /** The HBONE target service, hostname or port cannot be resolved, or is internal. */
  HboneUnknownTarget: 'MESH_ERR_HBONE_UNKNOWN_TARGET',
  /** The HBONE peer answered CONNECT with a status other than 200. */
  HboneRejected: 'MESH_ERR_HBONE_REJECTED',
  /** An L4 authorization policy denied the connection (or, after a policy change, closed it). */
  AuthorizationDenied: 'MESH_ERR_AUTHZ_DENIED',
  /** The HTTP/2 session or stream to or from an HBONE peer failed. */
  HboneStreamFailed: 'MESH_ERR_HBONE_STREAM_FAILED',
  /** The destination refused or did not answer the TCP connection. */
  ConnectFailed: 'MESH_ERR_CONNECT_FAILED',
  /** Connecting to an HBONE peer on 15008 timed out. */
  ConnectTimeout: 'MESH_ERR_CONNECT_TIMEOUT',
  /** A service exists but has no endpoint to send to. */
  NoHealthyUpstream: 'MESH_ERR_NO_HEALTHY_UPSTREAM',
  /** The destination names a waypoint that cannot be resolved: refused rather than sent around it. */
  WaypointUnknown: 'MESH_ERR_WAYPOINT_UNKNOWN',
  /** The connection's source address is not a workload this ztunnel serves. */
  UnknownSource: 'MESH_ERR_UNKNOWN_SOURCE',
  /** The destination is one of ztunnel's own internal ports. */
  SelfCall: 'MESH_ERR_SELF_CALL',
  /** A SOCKS5 client spoke something we do not support. */
  Socks5Protocol: 'MESH_ERR_SOCKS5_PROTOCOL',
  /** The proxy is shutting down and no longer accepts this work. */
  Draining: 'MESH_ERR_PROXY_DRAINING',
  /** The CA's signing material (plug-in folder or self-signed state) is unusable; every problem is listed. */
  CaMaterialInvalid: 'MESH_ERR_CA_MATERIAL_INVALID',
  /** The CA's token list (CA_TOKENS_FILE) is invalid; every problem is listed. */
  CaTokensInvalid: 'MESH_ERR_CA_TOKENS_INVALID',
  /** The Kubernetes API could not be listed at startup (unreachable, unauthorized, or an error status). */
  KubeApiFailed: 'MESH_ERR_KUBE_API_FAILED',
  /** An xDS Workload, Service or Authorization is malformed; the message names the resource and field. */
  XdsInvalidResource: 'MESH_ERR_XDS_INVALID_RESOURCE',
  /** The control plane's config source cannot start: CONFIG_DIR is missing or not a readable folder. */
  ConfigSourceUnavailable: 'MESH_ERR_CONFIG_SOURCE_UNAVAILABLE',
  /** A ZDS peer broke the protocol (truncated packet, stray fd, second snapshot); the connection is dropped. */
  ZdsProtocol: 'MESH_ERR_ZDS_PROTOCOL',
  /** ztunnel answered a ZDS request with an error Ack (the text is in the message). */
  ZdsRejected: 'MESH_ERR_ZDS_REJECTED',
  /** No ztunnel is connected over ZDS, or it left (or stopped acking) before answering. */
  ZdsUnavailable: 'MESH_ERR_ZDS_UNAVAILABLE',
  /** Installing or removing a pod's in-pod redirection (iptables, ip rule, ip route) failed. */
  RedirectRulesFailed: 'MESH_ERR_REDIRECT_RULES_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class MeshError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeshError';
    this.code = code;
  }
}

export function isMeshError(err: unknown, code?: ErrorCode): err is MeshError {
  return err instanceof MeshError && (code === undefined || err.code === code);
}

/** The message of anything thrown, for logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
