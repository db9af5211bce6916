import { isIP, type Socket } from 'node:net';
import { ErrorCode, MeshError } from '@ambient/core';

/** SOCKS5 reply codes (RFC 1928 §6) that we send. */
export const Socks5Reply = {
  Succeeded: 0x00,
  GeneralFailure: 0x01,
  NotAllowed: 0x02,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  CommandNotSupported: 0x07,
  AddressTypeNotSupported: 0x08,
} as const;

export type Socks5Target =
  | { readonly kind: 'ip'; readonly ip: string; readonly port: number }
  | { readonly kind: 'domain'; readonly hostname: string; readonly port: number };

const VERSION = 0x05;
const METHOD_NO_AUTH = 0x00;
const METHOD_NONE_ACCEPTABLE = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;
/** A greeting plus the longest request (domain of 255 bytes) fits well inside this. */
const MAX_HANDSHAKE_BYTES = 600;

/**
 * The server side of a SOCKS5 handshake: no-auth method, CONNECT with an IPv4, IPv6 or domain
 * address. Bytes the client sent after the request (optimistic data) are pushed back onto the
 * socket for the tunnel. A protocol violation answers with the matching SOCKS error, then
 * rejects with MeshError(Socks5Protocol).
 */
export function acceptSocks5(
  socket: Socket,
  timeoutMs: number,
): Promise<{ target: Socks5Target; handshakeBytes: number }> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    let greeted = false;
    let greetingBytes = 0;
    const timer = setTimeout(() => {
      fail(Socks5Reply.GeneralFailure, 'SOCKS5 handshake timed out');
    }, timeoutMs);
    timer.unref();

    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.off('close', onEnd);
    };
    const fail = (reply: number | undefined, message: string): void => {
      cleanup();
      if (reply !== undefined && greeted && socket.writable) socket.end(replyPacket(reply));
      else socket.destroy();
      reject(new MeshError(ErrorCode.Socks5Protocol, message));
    };
    const onEnd = (): void => {
      fail(undefined, 'client closed during the SOCKS5 handshake');
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length > MAX_HANDSHAKE_BYTES && !greeted) {
        fail(undefined, 'SOCKS5 greeting too long');
        return;
      }
      if (!greeted) {
        if (buffered.length < 2) return;
        if (buffered[0] !== VERSION) {
          fail(undefined, `not SOCKS5 (version byte ${String(buffered[0])})`);
          return;
        }
        const methods = buffered[1] ?? 0;
        if (buffered.length < 2 + methods) return;
        const offered = buffered.subarray(2, 2 + methods);
        if (!offered.includes(METHOD_NO_AUTH)) {
          cleanup();
          socket.end(Buffer.from([VERSION, METHOD_NONE_ACCEPTABLE]));
          reject(new MeshError(ErrorCode.Socks5Protocol, 'SOCKS5 client offered no no-auth method'));
          return;
        }
        greeted = true;
        greetingBytes = 2 + methods;
        socket.write(Buffer.from([VERSION, METHOD_NO_AUTH]));
        buffered = buffered.subarray(greetingBytes);
      }
      const parsed = parseRequest(buffered);
      if (parsed === 'incomplete') return;
      if ('error' in parsed) {
        fail(parsed.reply, parsed.error);
        return;
      }
      cleanup();
      const rest = buffered.subarray(parsed.length);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ target: parsed.target, handshakeBytes: greetingBytes + parsed.length });
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
    socket.on('close', onEnd);
  });
}

type ParsedRequest =
  | { readonly target: Socks5Target; readonly length: number }
  | { readonly error: string; readonly reply: number };

/** Parses VER CMD RSV ATYP DST.ADDR DST.PORT; 'incomplete' until every byte is there. */
export function parseRequest(buf: Buffer): ParsedRequest | 'incomplete' {
  if (buf.length < 4) return 'incomplete';
  if (buf[0] !== VERSION) return { error: 'bad SOCKS5 request version', reply: Socks5Reply.GeneralFailure };
  if (buf[1] !== CMD_CONNECT) {
    return {
      error: `SOCKS5 command ${String(buf[1])} not supported`,
      reply: Socks5Reply.CommandNotSupported,
    };
  }
  const atyp = buf[3];
  let addressEnd: number;
  let target: (port: number) => Socks5Target;
  if (atyp === ATYP_IPV4) {
    addressEnd = 8;
    if (buf.length < addressEnd + 2) return 'incomplete';
    const ip = `${String(buf[4])}.${String(buf[5])}.${String(buf[6])}.${String(buf[7])}`;
    target = (port) => ({ kind: 'ip', ip, port });
  } else if (atyp === ATYP_IPV6) {
    addressEnd = 20;
    if (buf.length < addressEnd + 2) return 'incomplete';
    const groups: string[] = [];
    for (let i = 4; i < 20; i += 2) groups.push(buf.readUInt16BE(i).toString(16));
    const ip = compressIpv6(groups.join(':'));
    target = (port) => ({ kind: 'ip', ip, port });
  } else if (atyp === ATYP_DOMAIN) {
    if (buf.length < 5) return 'incomplete';
    const length = buf[4] ?? 0;
    addressEnd = 5 + length;
    if (buf.length < addressEnd + 2) return 'incomplete';
    const hostname = buf.toString('latin1', 5, addressEnd);
    if (length === 0 || !/^[a-zA-Z0-9.-]+$/.test(hostname)) {
      return { error: 'SOCKS5 domain name is malformed', reply: Socks5Reply.HostUnreachable };
    }
    target = (port) =>
      isIP(hostname)
        ? { kind: 'ip', ip: hostname, port }
        : { kind: 'domain', hostname: hostname.toLowerCase(), port };
  } else {
    return {
      error: `SOCKS5 address type ${String(atyp)} not supported`,
      reply: Socks5Reply.AddressTypeNotSupported,
    };
  }
  const port = buf.readUInt16BE(addressEnd);
  if (port === 0) return { error: 'SOCKS5 target port 0', reply: Socks5Reply.HostUnreachable };
  return { target: target(port), length: addressEnd + 2 };
}

/** VER REP RSV ATYP=IPv4 0.0.0.0:0 — clients do not use the bound address for CONNECT. */
export function replyPacket(reply: number): Buffer {
  return Buffer.from([VERSION, reply, 0x00, ATYP_IPV4, 0, 0, 0, 0, 0, 0]);
}

function compressIpv6(full: string): string {
  // Let the URL parser produce the canonical compressed text form.
  return new URL(`http://[${full}]/`).hostname.slice(1, -1);
}
