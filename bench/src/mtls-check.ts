import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { BenchPki } from './bench-pki.js';
import { timeout } from './timeout.js';

/*
 * Proof that a peer's server side is what the comparison claims: it speaks TLS 1.3 to a client with
 * a mesh certificate, and it carries nothing for a client without one. Checked against the echo
 * tunnel on every start, so a peer that silently fell back to weaker settings would stop the bench.
 */

const CHECK_TIMEOUT_MS = 5_000;
const PROBE = 'mtls-probe';

/** Resolves with the cipher suite negotiated with a client certificate (for the record). */
export async function checkMutualTls(host: string, port: number, pki: BenchPki): Promise<string> {
  const ca = pki.rootPem;
  const withCertificate = await Promise.race([
    exchange({
      host,
      port,
      ca,
      cert: readFileSync(pki.client.chainPath),
      key: readFileSync(pki.client.keyPath),
    }),
    timeout(CHECK_TIMEOUT_MS, `TLS check of ${host}:${String(port)} with a client certificate`),
  ]);
  if (withCertificate.protocol !== 'TLSv1.3' || withCertificate.received !== PROBE) {
    throw new Error(
      `${host}:${String(port)} with a client certificate: ${String(withCertificate.protocol)}, ` +
        `echoed "${withCertificate.received}" (${withCertificate.error ?? 'no error'})`,
    );
  }
  const without = await Promise.race([
    exchange({ host, port, ca }),
    timeout(CHECK_TIMEOUT_MS, `TLS check of ${host}:${String(port)} without a client certificate`),
  ]);
  if (without.received !== '') {
    throw new Error(`${host}:${String(port)} carried data for a client without a certificate`);
  }
  return withCertificate.cipher;
}

interface ExchangeResult {
  readonly protocol: string | null;
  readonly cipher: string;
  readonly received: string;
  readonly error: string | undefined;
}

/** Connects, writes the probe, and collects what comes back until the peer closes or echoes it all. */
function exchange(options: tls.ConnectionOptions): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    let received = '';
    let protocol: string | null = null;
    let cipher = '';
    let error: string | undefined;
    const socket = tls.connect({
      ...options,
      // Mesh certificates name a SPIFFE id, not the IP: the chain is what is checked here.
      checkServerIdentity: () => undefined,
    });
    const finish = (): void => {
      socket.destroy();
      resolve({ protocol, cipher, received, error });
    };
    socket.setEncoding('latin1');
    socket.once('secureConnect', () => {
      protocol = socket.getProtocol();
      cipher = socket.getCipher().name;
      socket.write(PROBE);
    });
    socket.on('data', (text: string) => {
      received += text;
      if (received.length >= PROBE.length) finish();
    });
    socket.once('error', (err: Error) => {
      error = err.message;
      finish();
    });
    socket.once('close', finish);
  });
}

/** The TLS version and cipher suite a server negotiates with a mesh client certificate and ALPN h2 (HBONE). */
export async function hboneHandshake(host: string, port: number, pki: BenchPki): Promise<string> {
  const handshake = new Promise<string>((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      ca: pki.rootPem,
      cert: readFileSync(pki.client.chainPath),
      key: readFileSync(pki.client.keyPath),
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      const result = `${String(socket.getProtocol())} (${socket.getCipher().name})`;
      socket.destroy();
      resolve(result);
    });
    socket.once('error', (err: Error) => {
      socket.destroy();
      reject(err);
    });
  });
  return Promise.race([handshake, timeout(CHECK_TIMEOUT_MS, `TLS handshake with ${host}:${String(port)}`)]);
}
