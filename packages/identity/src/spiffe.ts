/** A workload identity: `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`. */
export interface Identity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/**
 * Exactly five path segments, as Istio and ztunnel parse it. The character sets are the SPIFFE
 * spec's (trust domain lower case; segments letters, digits, `.`, `-`, `_`), which also covers every
 * Kubernetes namespace and service account name. Anything else (percent-encoding, a query, a port,
 * empty parts) is not a workload identity.
 */
const WORKLOAD_ID = /^spiffe:\/\/([a-z0-9._-]+)\/ns\/([A-Za-z0-9._-]+)\/sa\/([A-Za-z0-9._-]+)$/;

/** The SPIFFE spec forbids dot segments: they would make two spellings of one identity. */
function isDotSegment(part: string): boolean {
  return part === '.' || part === '..';
}

/** The identity in a workload SPIFFE id, or undefined for anything else. Never throws. */
export function parseIdentity(uri: string): Identity | undefined {
  const match = WORKLOAD_ID.exec(uri);
  if (match === null) return undefined;
  const [, trustDomain, namespace, serviceAccount] = match;
  if (trustDomain === undefined || namespace === undefined || serviceAccount === undefined) return undefined;
  if (isDotSegment(trustDomain) || isDotSegment(namespace) || isDotSegment(serviceAccount)) return undefined;
  return { trustDomain, namespace, serviceAccount };
}

export function formatIdentity(id: Identity): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** The first URI that is a workload SPIFFE id: how ztunnel picks a peer's identity from its SANs. */
export function firstIdentity(uris: readonly string[]): Identity | undefined {
  for (const uri of uris) {
    const identity = parseIdentity(uri);
    if (identity !== undefined) return identity;
  }
  return undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ENTRY_SEPARATOR = ', ';
const URI_PREFIX = 'URI:';

/**
 * The URI values in Node's `subjectaltname` string (`URI:spiffe://a, DNS:b`). Node writes a value
 * that holds a comma, quote, backslash or control character as a JSON string literal, so that no
 * certificate can smuggle a fake entry into the list; we undo exactly that. Runs once per
 * connection: one pass, no regular expressions, no allocation for entries we skip. Malformed input
 * (never produced by Node) ends the scan rather than guessing.
 */
export function urisFromSubjectAltName(subjectaltname: string): string[] {
  const uris: string[] = [];
  const length = subjectaltname.length;
  let start = 0;
  while (start < length) {
    const colon = subjectaltname.indexOf(':', start);
    if (colon < 0) break;
    const isUri = subjectaltname.startsWith(URI_PREFIX, start);
    const quoted = subjectaltname.charCodeAt(colon + 1) === QUOTE;
    let end: number;
    if (quoted) {
      const close = closingQuote(subjectaltname, colon + 2);
      if (close < 0) break;
      end = close + 1;
    } else {
      end = subjectaltname.indexOf(ENTRY_SEPARATOR, colon + 1);
      if (end < 0) end = length;
    }
    const last = end === length;
    if (!last && !subjectaltname.startsWith(ENTRY_SEPARATOR, end)) break;
    if (isUri) {
      const value = quoted
        ? parseJsonString(subjectaltname.slice(colon + 1, end))
        : subjectaltname.slice(colon + 1, end);
      if (value === undefined) break;
      uris.push(value);
    }
    if (last) break;
    start = end + ENTRY_SEPARATOR.length;
  }
  return uris;
}

/** Index of the quote closing a JSON string whose content starts at `from`, or -1. */
function closingQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) i++;
    else if (code === QUOTE) return i;
  }
  return -1;
}

function parseJsonString(literal: string): string | undefined {
  try {
    const value: unknown = JSON.parse(literal);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
