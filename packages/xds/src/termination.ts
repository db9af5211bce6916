import { status } from '@grpc/grpc-js';
import type { TerminationReason } from './metrics.js';

/** How a client's stream ended. */
export interface StreamEnd {
  readonly code: status;
  readonly details: string;
  /** Whether the server answered at all (response headers or a message) before the end. */
  readonly established: boolean;
}

/** What to do about it: count it under `reason`, and reconnect after a growing backoff or at once. */
export interface Termination {
  readonly reason: TerminationReason;
  readonly retry: 'backoff' | 'soon';
}

/** Ends that are a server's normal way to move a client on (restart, max connection age, GOAWAY). */
const BENIGN_CODES: ReadonlySet<status> = new Set([
  status.UNKNOWN,
  status.CANCELLED,
  status.DEADLINE_EXCEEDED,
]);
/** Go's and Rust's words for a connection closing under a stream; grpc-js says "Connection dropped". */
const BENIGN_UNAVAILABLE = ['transport is closing', 'received prior goaway', 'connection dropped'];

/**
 * ztunnel's rules (`src/xds/client.rs` run_loop): a failure to connect backs off; a benign end
 * reconnects at once; any other gRPC error backs off; a clean end (OK) reconnects at once. In
 * grpc-js a failed connect is UNAVAILABLE before the server said anything, and an UNAVAILABLE
 * after it did is the connection going away under the stream.
 */
export function classifyTermination(end: StreamEnd): Termination {
  if (end.code === status.OK) return { reason: 'Complete', retry: 'soon' };
  if (end.code === status.UNAVAILABLE) {
    const details = end.details.toLowerCase();
    if (end.established || BENIGN_UNAVAILABLE.some((words) => details.includes(words))) {
      return { reason: 'Reconnect', retry: 'soon' };
    }
    return { reason: 'ConnectionError', retry: 'backoff' };
  }
  if (BENIGN_CODES.has(end.code)) return { reason: 'Reconnect', retry: 'soon' };
  return { reason: 'Error', retry: 'backoff' };
}
