import { isIP, SocketAddress } from 'node:net';

/*
 * xDS carries IP addresses as raw network-order bytes (4 for IPv4, 16 for IPv6); our model carries
 * text. The text of an IPv6 address is the form Node itself reports for socket peers, because
 * lookups compare text: a workload's address must read exactly as its connections' peer address.
 */

const IPV4_BYTES = 4;
const IPV6_BYTES = 16;
const IPV6_GROUPS = 8;
const HEX = 16;

/** The text of a 4- or 16-byte address; undefined for any other length. */
export function bytesToIp(bytes: Uint8Array): string | undefined {
  if (bytes.length === IPV4_BYTES) return bytes.join('.');
  if (bytes.length !== IPV6_BYTES) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < IPV6_BYTES; i += 2) {
    groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(HEX));
  }
  // Node compresses and writes mapped addresses (`::ffff:1.2.3.4`) the way it does for peers.
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** The network-order bytes of an IP address in text; undefined when the text is not one (or has a zone). */
export function ipToBytes(ip: string): Buffer | undefined {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6 || ip.includes('%')) return undefined;
  const groups = ipv6Groups(ip);
  if (groups === undefined) return undefined;
  const bytes = Buffer.alloc(IPV6_BYTES);
  groups.forEach((group, index) => bytes.writeUInt16BE(group, index * 2));
  return bytes;
}

/** The eight 16-bit groups of an address `isIP` has already accepted as IPv6. */
function ipv6Groups(ip: string): number[] | undefined {
  const [head = '', tail, ...more] = ip.split('::');
  if (more.length > 0) return undefined;
  const before = parseGroups(head);
  const after = tail === undefined ? [] : parseGroups(tail);
  if (before === undefined || after === undefined) return undefined;
  const missing = IPV6_GROUPS - before.length - after.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  return [...before, ...new Array<number>(missing).fill(0), ...after];
}

/** Colon-separated hex groups, the last of which may be a dotted IPv4 address (two groups). */
function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  for (const part of text.split(':')) {
    if (part.includes('.')) {
      const v4 = isIP(part) === 4 ? part.split('.').map(Number) : undefined;
      if (v4 === undefined) return undefined;
      const [a = 0, b = 0, c = 0, d = 0] = v4;
      groups.push((a << 8) | b, (c << 8) | d);
    } else {
      groups.push(parseInt(part, HEX));
    }
  }
  return groups;
}

/** The most bits a prefix of this address family can have: 32 for 4 bytes, 128 for 16. */
export function maxPrefixBits(bytes: Uint8Array): number {
  return bytes.length * 8;
}
