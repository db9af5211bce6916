/*
 * Every address and port of the bench. 127.30.x.x belongs to the bench alone, so it never collides
 * with the tests (127.20.x.x) or a local mesh running beside it. Each path has its own addresses
 * and its own tunnel ports, so no two paths can ever carry each other's traffic.
 */

/** ztunnel of the client's node: SOCKS5, admin, metrics and readiness bind here. */
export const NODE_A_IP = '127.30.0.1';
/** ztunnel of the server's node. */
export const NODE_B_IP = '127.30.0.2';
/** The client workload (on node-a): every client socket, direct or not, dials from here. */
export const CLIENT_IP = '127.30.1.1';
/** The server workload (on node-b): the app listens here, node-b's ztunnel takes HBONE on :15008. */
export const SERVER_IP = '127.30.2.1';

/** stunnel pair: the client-side stunnel takes plain TCP here on the app's port... */
export const STUNNEL_CLIENT_IP = '127.30.3.1';
/** ...and carries it over mTLS to the server-side stunnel here, on the app's port + STUNNEL_PORT_OFFSET. */
export const STUNNEL_SERVER_IP = '127.30.3.2';
export const STUNNEL_PORT_OFFSET = 10_000;

/** HAProxy pair: the same shape as the stunnel pair, on its own addresses and ports. */
export const HAPROXY_CLIENT_IP = '127.30.4.1';
export const HAPROXY_SERVER_IP = '127.30.4.2';
export const HAPROXY_PORT_OFFSET = 20_000;

/** The HTTP group's plain-TCP → SOCKS5 entry for wrk (load-generator side, not ztunnel's cost). */
export const FORWARDER_IP = '127.30.5.1';

// Istio's port numbers, which the ztunnel binary uses when the env does not say otherwise.
export const SOCKS5_PORT = 15080;
export const READINESS_PORT = 15021;
export const STATS_PORT = 15020;

/** Reads until the client half-closes, then answers with the byte count it received. */
export const SINK_PORT = 9000;
/** Echoes every byte: a 1 KiB request comes back as a 1 KiB response. */
export const ECHO_PORT = 9001;
/**
 * Reads SHORT_MESSAGE_BYTES, answers with them and closes first. The server closing first keeps
 * TIME_WAIT on the listening side: a client that closed first would leave thousands of its own
 * ports in TIME_WAIT per second, and binding the next one from CLIENT_IP slows down with every one.
 */
export const SHORT_PORT = 9002;
export const SHORT_MESSAGE_BYTES = 64;
/** nginx, serving one small static file. */
export const HTTP_PORT = 8080;
