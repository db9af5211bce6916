/*
 * Every address and port of the L4 bench. 127.30.x.x belongs to this bench alone, so it never
 * collides with the tests (127.20.x.x) or a local mesh running beside it.
 */

/** ztunnel of the client's node: SOCKS5, admin, metrics and readiness bind here. */
export const NODE_A_IP = '127.30.0.1';
/** ztunnel of the server's node. */
export const NODE_B_IP = '127.30.0.2';
/** The client workload (on node-a): every client socket, direct or not, dials from here. */
export const CLIENT_IP = '127.30.1.1';
/** The server workload (on node-b): the app listens here, node-b's ztunnel takes HBONE on :15008. */
export const SERVER_IP = '127.30.2.1';

// Istio's port numbers, which the ztunnel binary uses when the env does not say otherwise.
export const SOCKS5_PORT = 15080;
export const READINESS_PORT = 15021;
export const STATS_PORT = 15020;

/** Reads until the client half-closes, then answers with the byte count it received. */
export const SINK_PORT = 9000;
/** Echoes every byte: a 1 KiB request comes back as a 1 KiB response. */
export const ECHO_PORT = 9001;
