import { IpWords, parseIp } from './ip.js';
import { peerIdentity, type PeerIdentity } from './peer-identity.js';

/** What L4 authorization knows about an inbound connection (ztunnel's `rbac::Connection`). */
export interface ConnectionAttributes {
  /** The peer's address as seen on the socket; an IPv4-mapped IPv6 address counts as IPv4. */
  readonly sourceIp: string;
  readonly sourcePort?: number;
  /** The destination workload's address. */
  readonly destinationIp: string;
  /** The final target port, after service-port translation. */
  readonly destinationPort: number;
  /** The SPIFFE URI of the peer certificate; undefined for plaintext. */
  readonly sourceIdentity: string | undefined;
}

/**
 * One connection's attributes, each parsed at most once and only when some policy asks for it
 * (a port-only policy never parses an address). Reset and reused between evaluations, which are
 * synchronous, so that evaluating allocates nothing here.
 */
export class ConnectionInput {
  private attributes: ConnectionAttributes | undefined;
  private readonly source = new IpWords();
  private readonly destination = new IpWords();
  private sourceParsed = false;
  private destinationParsed = false;
  private identityParsed = false;
  private identity: PeerIdentity | undefined;

  reset(attributes: ConnectionAttributes | undefined): void {
    this.attributes = attributes;
    this.sourceParsed = false;
    this.destinationParsed = false;
    this.identityParsed = false;
    this.identity = undefined;
  }

  destinationPort(): number {
    return this.attributes?.destinationPort ?? -1;
  }

  sourceAddress(): IpWords {
    if (!this.sourceParsed) {
      this.sourceParsed = true;
      parseAddress(this.attributes?.sourceIp, this.source);
    }
    return this.source;
  }

  destinationAddress(): IpWords {
    if (!this.destinationParsed) {
      this.destinationParsed = true;
      parseAddress(this.attributes?.destinationIp, this.destination);
    }
    return this.destination;
  }

  /** Undefined for plaintext and for a URI that is not a workload identity. */
  peerIdentity(): PeerIdentity | undefined {
    if (!this.identityParsed) {
      this.identityParsed = true;
      const uri = this.attributes?.sourceIdentity;
      this.identity = typeof uri === 'string' ? peerIdentity(uri) : undefined;
    }
    return this.identity;
  }
}

function parseAddress(text: string | undefined, out: IpWords): void {
  if (typeof text !== 'string') {
    out.clear();
    return;
  }
  parseIp(text, out);
  out.canonicalize();
}
