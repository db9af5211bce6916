import { createHash } from 'node:crypto';

/** 16 hex digits (64 bits): a collision between two versions of one resource is not a practical worry. */
const VERSION_HEX_DIGITS = 16;

/**
 * A resource's version: a short hash of its encoded bytes. Equal bytes give equal versions in
 * every process, so a client's `initial_resource_versions` still match after a server restart and
 * unchanged resources are not sent again.
 */
export function resourceVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, VERSION_HEX_DIGITS);
}
