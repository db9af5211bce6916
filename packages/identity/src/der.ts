/**
 * The few DER (X.690) encodings a certificate signing request needs. Definite lengths only; every
 * function returns a complete TLV, so callers nest them like the ASN.1 they mirror.
 */

function length(byteCount: number): Buffer {
  if (byteCount < 0x80) return Buffer.from([byteCount]);
  const bytes: number[] = [];
  for (let rest = byteCount; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One tag-length-value. */
export function tlv(tag: number, ...contents: readonly Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

export const sequence = (...items: readonly Buffer[]): Buffer => tlv(0x30, ...items);
export const set = (...items: readonly Buffer[]): Buffer => tlv(0x31, ...items);
export const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);
export const booleanTrue = (): Buffer => Buffer.from([0x01, 0x01, 0xff]);
export const integerZero = (): Buffer => Buffer.from([0x02, 0x01, 0x00]);
/** A BIT STRING of whole bytes (no unused bits). */
export const bitString = (bytes: Buffer): Buffer => tlv(0x03, Buffer.from([0]), bytes);
/** `[n]` context-specific, constructed (e.g. the `[0]` attributes of a CSR). */
export const contextConstructed = (n: number, ...items: readonly Buffer[]): Buffer => tlv(0xa0 | n, ...items);
/** `[n] IMPLICIT` context-specific, primitive (e.g. GeneralName `[6]` URI). */
export const contextPrimitive = (n: number, bytes: Buffer): Buffer => tlv(0x80 | n, bytes);

/** An OBJECT IDENTIFIER from its dotted form. */
export function objectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [first * 40 + second];
  for (const arc of rest) {
    const base128: number[] = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) {
      base128.unshift(0x80 | (value & 0x7f));
    }
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}
