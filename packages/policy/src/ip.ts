/**
 * IP addresses as 32-bit words, parsed without allocation: policy checks run per inbound connection
 * and compare an address against CIDRs with a mask and an equality per word.
 */

/** `family` 0 = not an address; 4 uses `w0` only; 6 uses `w0`..`w3` (most significant first). */
export class IpWords {
  family: 0 | 4 | 6 = 0;
  w0 = 0;
  w1 = 0;
  w2 = 0;
  w3 = 0;
  /** Set for `::ffff:a.b.c.d`: the words hold the IPv6 form, `w3` the IPv4 address. */
  mapped = false;

  clear(): void {
    this.family = 0;
    this.w0 = 0;
    this.w1 = 0;
    this.w2 = 0;
    this.w3 = 0;
    this.mapped = false;
  }

  /** An IPv4-mapped IPv6 address becomes the IPv4 address it carries, as ztunnel canonicalises peers. */
  canonicalize(): void {
    if (!this.mapped) return;
    this.family = 4;
    this.w0 = this.w3;
    this.w1 = 0;
    this.w2 = 0;
    this.w3 = 0;
    this.mapped = false;
  }
}

const DOT = 0x2e;
const COLON = 0x3a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LOWER_A = 0x61;
const LOWER_F = 0x66;
const UPPER_A = 0x41;
const UPPER_F = 0x46;
const LOWER_Z = 0x7a;
const UPPER_Z = 0x5a;
const DASH = 0x2d;
const IPV6_GROUPS = 8;
const MAX_HEX_DIGITS_PER_GROUP = 4;

/** Reused by every parse: the 16-bit groups of the IPv6 address being read. */
const groups = new Uint16Array(IPV6_GROUPS);

/**
 * Parse `text` into `out` (family 0 when it is not an IP address). Accepts dotted-quad IPv4 without
 * leading zeros, and IPv6 with `::` compression, an embedded IPv4 tail and a `%zone` (ignored). Mapped
 * addresses keep their IPv6 form; call `canonicalize()` to treat them as IPv4. Never throws.
 */
export function parseIp(text: string, out: IpWords): void {
  out.clear();
  if (!text.includes(':')) {
    const v4 = parseIpv4(text, 0, text.length);
    if (v4 === undefined) return;
    out.family = 4;
    out.w0 = v4;
    return;
  }
  let end = text.indexOf('%');
  if (end < 0) end = text.length;
  else if (!isZone(text, end + 1)) return;
  if (!parseIpv6Groups(text, end)) return;
  out.family = 6;
  out.w0 = wordOf(0);
  out.w1 = wordOf(2);
  out.w2 = wordOf(4);
  out.w3 = wordOf(6);
  out.mapped = out.w0 === 0 && out.w1 === 0 && out.w2 === 0xffff;
}

function wordOf(group: number): number {
  return ((groups[group] ?? 0) << 16) | (groups[group + 1] ?? 0) | 0;
}

/** The address as a signed 32-bit integer (our word representation), or undefined. */
function parseIpv4(text: string, start: number, end: number): number | undefined {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    let octet = 0;
    let digits = 0;
    const first = i;
    while (i < end) {
      const code = text.charCodeAt(i);
      if (code < DIGIT_0 || code > DIGIT_9) break;
      octet = octet * 10 + (code - DIGIT_0);
      digits++;
      i++;
    }
    if (digits === 0 || digits > 3 || octet > 255) return undefined;
    if (digits > 1 && text.charCodeAt(first) === DIGIT_0) return undefined;
    value = (value << 8) | octet | 0;
    parts++;
    if (parts < 4) {
      if (i >= end || text.charCodeAt(i) !== DOT) return undefined;
      i++;
    }
  }
  return i === end ? value : undefined;
}

/** A scope zone (`fe80::1%eth0`): what Node accepts, letters, digits, `-`, `.` and `:`. */
function isZone(text: string, start: number): boolean {
  if (start >= text.length) return false;
  for (let i = start; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const ok =
      (code >= DIGIT_0 && code <= DIGIT_9) ||
      (code >= LOWER_A && code <= LOWER_Z) ||
      (code >= UPPER_A && code <= UPPER_Z) ||
      code === DASH ||
      code === DOT ||
      code === COLON;
    if (!ok) return false;
  }
  return true;
}

function hexValue(code: number): number {
  if (code >= DIGIT_0 && code <= DIGIT_9) return code - DIGIT_0;
  if (code >= LOWER_A && code <= LOWER_F) return code - LOWER_A + 10;
  if (code >= UPPER_A && code <= UPPER_F) return code - UPPER_A + 10;
  return -1;
}

/** Fill `groups` from `text[0, end)`; false when it is not an IPv6 address. */
function parseIpv6Groups(text: string, end: number): boolean {
  let count = 0;
  let gap = -1;
  let i = 0;
  if (end >= 2 && text.charCodeAt(0) === COLON && text.charCodeAt(1) === COLON) {
    gap = 0;
    i = 2;
  } else if (end >= 1 && text.charCodeAt(0) === COLON) {
    return false;
  }
  while (i < end) {
    let value = 0;
    let digits = 0;
    let j = i;
    while (j < end) {
      const digit = hexValue(text.charCodeAt(j));
      if (digit < 0) break;
      value = value * 16 + digit;
      digits++;
      j++;
    }
    if (j < end && text.charCodeAt(j) === DOT) {
      // An embedded IPv4 address fills the last two groups and ends the text.
      if (count > IPV6_GROUPS - 2) return false;
      const v4 = parseIpv4(text, i, end);
      if (v4 === undefined) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      break;
    }
    if (digits === 0 || digits > MAX_HEX_DIGITS_PER_GROUP || count === IPV6_GROUPS) return false;
    groups[count++] = value;
    i = j;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON) return false;
    i++;
    if (i < end && text.charCodeAt(i) === COLON) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === end) {
      return false;
    }
  }
  if (gap < 0) return count === IPV6_GROUPS;
  if (count > IPV6_GROUPS - 1) return false;
  const tail = count - gap;
  const shift = IPV6_GROUPS - count;
  for (let k = tail - 1; k >= 0; k--) groups[gap + shift + k] = groups[gap + k] ?? 0;
  for (let k = gap; k < gap + shift; k++) groups[k] = 0;
  return true;
}
