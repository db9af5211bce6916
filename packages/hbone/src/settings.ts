/**
 * HTTP/2 and pool settings for HBONE, with ztunnel's numbers (reference/ztunnel.md §3.5) so that
 * our tunnels behave like Istio's under the same load and interoperate with Rust ztunnel and Envoy.
 */

/** Per-stream flow-control window: Node's 64 KiB default caps a tunnel near 1 Gbit/s. */
export const STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
/** Connection window, 4× the stream window so one busy stream cannot starve the others. */
export const CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;
/** Largest DATA frame we accept. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Header list limits: CONNECT requests carry only a few small headers. */
export const CLIENT_MAX_HEADER_LIST_BYTES = 16 * 1024;
export const SERVER_MAX_HEADER_LIST_BYTES = 64 * 1024;
/** Streams one inbound HBONE connection may carry at once (ztunnel's server limit). */
export const SERVER_MAX_CONCURRENT_STREAMS = 200;
/** Streams we put on one pooled outbound connection before opening another (POOL_MAX_STREAMS_PER_CONNECTION). */
export const DEFAULT_POOL_MAX_STREAMS = 100;
/** A pooled connection unused this long is closed (POOL_UNUSED_RELEASE_TIMEOUT). */
export const DEFAULT_POOL_IDLE_TIMEOUT_MS = 5 * 60_000;
/** HTTP/2 PING keepalive: one every interval; no answer within the timeout tears the connection down. */
export const DEFAULT_PING_INTERVAL_MS = 10_000;
export const DEFAULT_PING_TIMEOUT_MS = 20_000;
/** TCP+TLS connect to a peer's 15008; past this a NetworkPolicy is the usual cause. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export const HBONE_PORT = 15008;

export const clientHttp2Settings = {
  enablePush: false,
  initialWindowSize: STREAM_WINDOW_BYTES,
  maxFrameSize: MAX_FRAME_BYTES,
  maxHeaderListSize: CLIENT_MAX_HEADER_LIST_BYTES,
} as const;

export const serverHttp2Settings = {
  enablePush: false,
  initialWindowSize: STREAM_WINDOW_BYTES,
  maxFrameSize: MAX_FRAME_BYTES,
  maxHeaderListSize: SERVER_MAX_HEADER_LIST_BYTES,
  maxConcurrentStreams: SERVER_MAX_CONCURRENT_STREAMS,
} as const;
