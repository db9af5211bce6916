import { ErrorCode, MeshError } from '@ambient/core';
import { describe, expect, it } from 'vitest';
import { responseFlagFor, type ResponseFlag } from './response-flags.js';

describe('responseFlagFor', () => {
  const table: [string, unknown, ResponseFlag][] = [
    ['no error', undefined, '-'],
    ['null', null, '-'],
    ['refused', new MeshError(ErrorCode.ConnectFailed, 'refused'), 'CONNECT'],
    ['15008 dial timed out', new MeshError(ErrorCode.ConnectTimeout, 'timeout'), 'NETWORK_POLICY'],
    ['handshake', new MeshError(ErrorCode.TlsFailure, 'bad chain'), 'TLS_FAILURE'],
    ['peer SAN', new MeshError(ErrorCode.IdentityMismatch, 'wrong SAN'), 'TLS_FAILURE'],
    ['own cert missing', new MeshError(ErrorCode.CertMissing, 'no cert'), 'IDENTITY_ERROR'],
    ['identity unparsable', new MeshError(ErrorCode.IdentityInvalid, 'bad uri'), 'IDENTITY_ERROR'],
    ['h2 failed', new MeshError(ErrorCode.HboneStreamFailed, 'goaway'), 'H2_HANDSHAKE_FAILURE'],
    ['CONNECT rejected', new MeshError(ErrorCode.HboneRejected, '503'), 'CONNECT'],
    ['no endpoint', new MeshError(ErrorCode.NoHealthyUpstream, 'none'), 'CONNECT'],
    ['plain Error', new Error('ECONNRESET'), 'CONNECT'],
    ['a thrown string', 'boom', 'CONNECT'],
  ];

  it.each(table)('%s → %s', (_name, err, flag) => {
    expect(responseFlagFor(err)).toBe(flag);
  });
});
