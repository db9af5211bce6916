import { ErrorCode, MeshError } from '@ambient/core';

/** The `response_flags` values Istio's ztunnel reports. */
export type ResponseFlag =
  | '-'
  | 'DENY'
  | 'CONNECT'
  | 'TLS_FAILURE'
  | 'H2_HANDSHAKE_FAILURE'
  | 'NETWORK_POLICY'
  | 'IDENTITY_ERROR'
  | 'CERT_REVOKED';

/** A connection that ended without error. */
export const RESPONSE_FLAG_NONE = '-' satisfies ResponseFlag;

/** Istio's fallback for any failure it cannot classify more precisely. */
const RESPONSE_FLAG_DEFAULT_FAILURE = 'CONNECT' satisfies ResponseFlag;

/**
 * The one mapping from error code to response flag (DESIGN §6). Codes that are absent report CONNECT,
 * as ztunnel does for every error it does not single out. Where a code is listed, the row follows what
 * ztunnel reports for the equivalent failure:
 *
 * | code               | flag                 | why                                                        |
 * |--------------------|----------------------|------------------------------------------------------------|
 * | ConnectFailed      | CONNECT              | upstream connection refused or reset                       |
 * | ConnectTimeout     | NETWORK_POLICY       | a 15008 dial that times out is most likely a NetworkPolicy |
 * | TlsFailure         | TLS_FAILURE          | handshake failed                                           |
 * | IdentityMismatch   | TLS_FAILURE          | ztunnel checks the peer SAN inside the TLS handshake       |
 * | CertMissing        | IDENTITY_ERROR       | our own certificate is unavailable (ztunnel's identity err)|
 * | IdentityInvalid    | IDENTITY_ERROR       | an identity that cannot be parsed                          |
 * | CaRequestFailed    | IDENTITY_ERROR       | the CA could not give us a certificate                     |
 * | HboneStreamFailed  | H2_HANDSHAKE_FAILURE | the HTTP/2 session or stream failed                        |
 * | AuthorizationDenied| DENY                 | an AuthorizationPolicy refused it (or closed it on change) |
 *
 * Certificate revocation (CERT_REVOKED) gets a row when its code exists.
 */
const RESPONSE_FLAG_BY_ERROR_CODE: Readonly<Partial<Record<ErrorCode, ResponseFlag>>> = {
  [ErrorCode.ConnectFailed]: 'CONNECT',
  [ErrorCode.ConnectTimeout]: 'NETWORK_POLICY',
  [ErrorCode.TlsFailure]: 'TLS_FAILURE',
  [ErrorCode.IdentityMismatch]: 'TLS_FAILURE',
  [ErrorCode.CertMissing]: 'IDENTITY_ERROR',
  [ErrorCode.IdentityInvalid]: 'IDENTITY_ERROR',
  [ErrorCode.CaRequestFailed]: 'IDENTITY_ERROR',
  [ErrorCode.HboneStreamFailed]: 'H2_HANDSHAKE_FAILURE',
  [ErrorCode.AuthorizationDenied]: 'DENY',
};

/** The response flag for how a connection ended: `-` without error, otherwise the table above. */
export function responseFlagFor(err: unknown): ResponseFlag {
  if (err === undefined || err === null) return RESPONSE_FLAG_NONE;
  if (err instanceof MeshError) return RESPONSE_FLAG_BY_ERROR_CODE[err.code] ?? RESPONSE_FLAG_DEFAULT_FAILURE;
  return RESPONSE_FLAG_DEFAULT_FAILURE;
}
