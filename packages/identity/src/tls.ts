import type { ConnectionOptions, PeerCertificate, TLSSocket, TlsOptions } from 'node:tls';
import { ErrorCode, MeshError } from '@ambient/core';
import { secureContextOptionsOf, type WorkloadCertificate } from './certificate.js';
import { firstIdentity, urisFromSubjectAltName, type Identity } from './spiffe.js';

/** HBONE is HTTP/2 over TLS; ztunnel offers and accepts only this protocol. */
export const HBONE_ALPN = 'h2';

export const EXPECTED_SAN_MISMATCH = 'peer did not present the expected SAN';

/**
 * Options for dialling an HBONE peer. No SNI (ztunnel neither sends nor reads it) and no `session`:
 * Node skips `checkServerIdentity` on a resumed session, which would skip our SAN check.
 * The chain is verified by OpenSSL against the certificate's roots; Node's hostname check ignores
 * URI SANs, so `checkServerIdentity` is ours: some URI SAN of the peer leaf must be one of
 * `expectedIdentities` (an empty list accepts nobody).
 */
export function clientTlsOptions(
  cert: WorkloadCertificate,
  expectedIdentities: readonly string[],
): ConnectionOptions {
  // A copy: the caller's array may change after this connection's expectations were set.
  const expected = [...expectedIdentities];
  return {
    secureContext: cert.secureContext,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ALPNProtocols: [HBONE_ALPN],
    rejectUnauthorized: true,
    checkServerIdentity: (_hostname: string, peer: PeerCertificate) => checkExpectedSan(peer, expected),
  };
}

function checkExpectedSan(peer: PeerCertificate, expected: readonly string[]): Error | undefined {
  const uris = urisFromSubjectAltName(peer.subjectaltname ?? '');
  for (const uri of uris) {
    if (expected.includes(uri)) return undefined;
  }
  return new MeshError(
    ErrorCode.IdentityMismatch,
    `${EXPECTED_SAN_MISMATCH}: presented [${uris.join(', ')}], expected one of [${expected.join(', ')}]`,
  );
}

/**
 * Options for an HBONE listener (`tls.createServer`, `http2.createSecureServer`): TLS 1.3 only, a
 * client certificate required and chained to our roots, ALPN h2. A `tls.Server` ignores
 * `secureContext` and builds one context per server from key/cert/ca, so both are here; the cost
 * is per listener, not per connection. Sockets accepted elsewhere go in with
 * `server.emit('connection', socket)`: only tls.Server checks a client's chain (Node's OpenSSL
 * callback accepts everything and leaves the verdict to it), so a bare `new TLSSocket(...)` never
 * becomes `authorized` and `verifyClientIdentity` refuses it. No resumption: no tickets
 * (SSL_OP_NO_TICKET in the context), and tls.Server keeps no session cache of its own unless
 * someone listens for 'newSession'/'resumeSession', which an HBONE server must not do.
 * After the handshake, call `verifyClientIdentity`: the chain check alone admits any trust domain
 * whose root we hold.
 */
export function serverTlsOptions(cert: WorkloadCertificate): TlsOptions {
  return {
    ...secureContextOptionsOf(cert),
    secureContext: cert.secureContext,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: [HBONE_ALPN],
  };
}

/**
 * The identity a client proved, on the server side after the handshake: the first SPIFFE URI SAN
 * of its leaf, which must be in our trust domain (as ztunnel's TrustDomainVerifier demands).
 * Throws MeshError(IdentityMismatch) otherwise.
 */
export function verifyClientIdentity(socket: TLSSocket, serverTrustDomain: string): Identity {
  if (!socket.authorized) {
    throw new MeshError(
      ErrorCode.IdentityMismatch,
      `peer certificate was not verified: ${String(socket.authorizationError)}`,
    );
  }
  const identity = peerIdentity(socket);
  if (identity === undefined) {
    throw new MeshError(ErrorCode.IdentityMismatch, 'peer certificate carries no SPIFFE workload identity');
  }
  if (identity.trustDomain !== serverTrustDomain) {
    throw new MeshError(
      ErrorCode.IdentityMismatch,
      `peer trust domain "${identity.trustDomain}" is not ours ("${serverTrustDomain}")`,
    );
  }
  return identity;
}

/**
 * The peer's identity (first SPIFFE URI SAN of its leaf), or undefined if it has none or the
 * handshake did not verify its certificate. Uses the certificate OpenSSL already parsed during
 * the handshake; only its SAN text is read.
 */
export function peerIdentity(socket: TLSSocket): Identity | undefined {
  if (!socket.authorized) return undefined;
  const subjectAltName = socket.getPeerX509Certificate()?.subjectAltName;
  return subjectAltName === undefined ? undefined : firstIdentity(urisFromSubjectAltName(subjectAltName));
}
