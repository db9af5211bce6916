// Programs that run inside pod namespaces (node -e), unmodified by the mesh: whatever they do is
// captured by the pod's iptables rules, as an app's traffic would be.

/** The app port every pod serves. */
export const APP_PORT = 8080;

/**
 * An echo server on [::]:8080 (IPv4 too): each connection first gets the caller's address as the
 * server sees it and a `|`, then everything it sends, back. Prints `listening` once bound.
 */
export const ECHO_SERVER = `
const net = require('node:net');
const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.write(String(socket.remoteAddress).replace(/^::ffff:/, '') + '|');
  socket.pipe(socket);
});
server.listen({ host: '::', port: ${String(APP_PORT)} }, () => console.log('listening'));
`;

/** Sends argv[3] to argv[1]:argv[2], half-closes, prints the whole reply; exit code 1 on an error. */
export const ECHO_CLIENT = `
const net = require('node:net');
const [host, port, message] = process.argv.slice(1);
let reply = '';
const socket = net.connect({ host, port: Number(port), allowHalfOpen: true }, () => socket.end(message));
socket.setEncoding('utf8');
socket.on('data', (chunk) => (reply += chunk));
socket.on('end', () => process.stdout.write(reply));
socket.on('error', (err) => { process.stdout.write(reply); console.error(err.message); process.exitCode = 1; });
`;

/**
 * Sends argv[3] MiB of random bytes to the echo server at argv[1]:argv[2] and reads the echo;
 * prints JSON with the SHA-256 of what it sent and of what came back (after the `peer|` prefix).
 */
export const BULK_CLIENT = `
const net = require('node:net');
const { createHash, randomBytes } = require('node:crypto');
const [host, port, mebibytes] = process.argv.slice(1);
const data = randomBytes(Number(mebibytes) * 1024 * 1024);
const chunks = [];
const socket = net.connect({ host, port: Number(port), allowHalfOpen: true }, () => socket.end(data));
socket.on('data', (chunk) => chunks.push(chunk));
socket.on('end', () => {
  const reply = Buffer.concat(chunks);
  const echo = reply.subarray(reply.indexOf('|') + 1);
  const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');
  console.log(JSON.stringify({ sent: sha(data), sentBytes: data.length, echoed: sha(echo), echoedBytes: echo.length }));
});
socket.on('error', (err) => { console.error(err.message); process.exitCode = 1; });
`;

/**
 * For each `host:port` argument: connect, send an HTTP request (what a metrics or readiness port
 * would answer), and report how it ended and what came back, as one JSON object per line.
 */
export const PORT_PROBE = `
const net = require('node:net');
const PROBE_TIMEOUT_MS = 3000;
function probe(target) {
  const cut = target.lastIndexOf(':');
  const host = target.slice(0, cut).replace(/^\\[|\\]$/g, '');
  const port = Number(target.slice(cut + 1));
  return new Promise((resolve) => {
    let reply = '';
    let connected = false;
    const done = (outcome) => { socket.destroy(); resolve({ target, outcome, connected, reply: reply.slice(0, 200) }); };
    const socket = net.connect({ host, port }, () => {
      connected = true;
      socket.write('GET /metrics HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n');
    });
    socket.setEncoding('latin1');
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done('timeout'));
    socket.on('data', (chunk) => (reply += chunk));
    socket.on('end', () => done('closed'));
    socket.on('error', (err) => done(err.code || err.message));
  });
}
(async () => {
  for (const result of await Promise.all(process.argv.slice(1).map(probe))) console.log(JSON.stringify(result));
})();
`;
