import { randomBytes } from 'node:crypto';

/**
 * Every certificate we make starts a minute in the past, so a peer whose clock runs a little
 * behind ours does not reject it as not yet valid (istiod backdates the same way).
 */
export const CLOCK_SKEW_MS = 60_000;

/** 128 random bits: unpredictable, and never shared by two certificates of one issuer. */
const SERIAL_BYTES = 16;

/** A positive DER integer in hex: the top bit clear, the first byte non-zero so it is not re-encoded. */
export function randomSerial(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}
