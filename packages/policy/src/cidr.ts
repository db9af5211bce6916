import type { CidrMatch } from '@ambient/state';
import { IpWords, parseIp } from './ip.js';

/** A CIDR as masked network words: containment is one AND and compare per 32-bit word. */
export interface CompiledCidr {
  readonly family: 4 | 6;
  readonly n0: number;
  readonly n1: number;
  readonly n2: number;
  readonly n3: number;
  readonly m0: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;
}

const IPV4_BITS = 32;
const IPV6_BITS = 128;
/** The first 96 bits of `::ffff:a.b.c.d`: a mapped CIDR at least this long is an IPv4 CIDR. */
const IPV4_MAPPED_PREFIX_BITS = 96;

/** The mask of one 32-bit word that keeps `bits` leading bits (0..32), as a signed integer. */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return -1;
  return (-1 << (32 - bits)) | 0;
}

const scratch = new IpWords();

/**
 * The compiled CIDR, or undefined when the address or prefix length is invalid: ztunnel drops such
 * entries from the list rather than failing the policy. An IPv4-mapped IPv6 CIDR of at least 96
 * bits becomes the IPv4 CIDR it describes, so that it matches the (canonical, IPv4) peer addresses.
 */
export function compileCidr(cidr: CidrMatch): CompiledCidr | undefined {
  const prefix = cidr.prefixLength;
  parseIp(cidr.ip, scratch);
  if (scratch.family === 0 || !Number.isInteger(prefix) || prefix < 0) return undefined;
  if (scratch.family === 6 && scratch.mapped && prefix >= IPV4_MAPPED_PREFIX_BITS && prefix <= IPV6_BITS) {
    scratch.canonicalize();
    return ipv4Cidr(scratch.w0, prefix - IPV4_MAPPED_PREFIX_BITS);
  }
  if (scratch.family === 4) return prefix <= IPV4_BITS ? ipv4Cidr(scratch.w0, prefix) : undefined;
  if (prefix > IPV6_BITS) return undefined;
  const m0 = wordMask(prefix);
  const m1 = wordMask(prefix - 32);
  const m2 = wordMask(prefix - 64);
  const m3 = wordMask(prefix - 96);
  return {
    family: 6,
    n0: scratch.w0 & m0,
    n1: scratch.w1 & m1,
    n2: scratch.w2 & m2,
    n3: scratch.w3 & m3,
    m0,
    m1,
    m2,
    m3,
  };
}

function ipv4Cidr(address: number, prefix: number): CompiledCidr {
  const m0 = wordMask(prefix);
  return { family: 4, n0: address & m0, n1: 0, n2: 0, n3: 0, m0, m1: 0, m2: 0, m3: 0 };
}

/** Families never mix: an IPv4 peer is not inside an IPv6 CIDR, as in ztunnel. */
export function cidrContains(cidr: CompiledCidr, ip: IpWords): boolean {
  if (cidr.family !== ip.family) return false;
  return (
    (ip.w0 & cidr.m0) === cidr.n0 &&
    (ip.w1 & cidr.m1) === cidr.n1 &&
    (ip.w2 & cidr.m2) === cidr.n2 &&
    (ip.w3 & cidr.m3) === cidr.n3
  );
}

export function anyCidrContains(cidrs: readonly CompiledCidr[], ip: IpWords): boolean {
  // Indexed, as in match.ts: a per-connection loop where iterators measured slower.
  // eslint-disable-next-line @typescript-eslint/prefer-for-of
  for (let i = 0; i < cidrs.length; i++) {
    const cidr = cidrs[i];
    if (cidr !== undefined && cidrContains(cidr, ip)) return true;
  }
  return false;
}
