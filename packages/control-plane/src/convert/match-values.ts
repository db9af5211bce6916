import { isIP } from 'node:net';
import { normalizeIp } from '@ambient/core';
import type { CidrMatch, StringMatch } from '@ambient/state';

/** Istio's string forms: `*` presence, `*x` suffix, `x*` prefix, anything else exact. */
export function toStringMatch(value: string): StringMatch {
  if (value === '*') return { kind: 'presence' };
  if (value.startsWith('*')) return { kind: 'suffix', value: value.slice(1) };
  if (value.endsWith('*')) return { kind: 'prefix', value: value.slice(0, -1) };
  return { kind: 'exact', value };
}

const MAX_PREFIX_BITS = { 4: 32, 6: 128 } as const;

/** `10.0.0.0/8`, or a bare address meaning that one address (/32, /128); undefined when neither. */
export function parseCidr(text: string): CidrMatch | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  const maxBits = MAX_PREFIX_BITS[family];
  if (slash < 0) return { ip: normalizeIp(address), prefixLength: maxBits };
  const bits = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits) return undefined;
  return { ip: normalizeIp(address), prefixLength: Number(bits) };
}

const MAX_PORT = 65535;

/** A port (1-65535) written as text (`"8080"`), as AuthorizationPolicy and PeerAuthentication write them. */
export function parsePortText(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= MAX_PORT ? port : undefined;
}
