import { X509Certificate } from 'node:crypto';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Each certificate block of a PEM text, one block per element, each ending in a newline. */
export function splitPemCertificates(pem: string): string[] {
  return (pem.match(PEM_CERTIFICATE) ?? []).map((block) => `${block}\n`);
}

/** Node's parser, or the reason it refused. */
export function parseCertificate(pem: string): X509Certificate | string {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Ends with a newline, so that concatenated blocks never share a line. */
export function withTrailingNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

/** True when `child` names `parent` as its issuer and carries a signature by `parent`'s key. */
export function isIssuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}
