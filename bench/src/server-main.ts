import net from 'node:net';
import { ECHO_PORT, SERVER_IP, SINK_PORT } from './topology.js';

/*
 * The app side of every flow, in its own process: the load client then has the bench process's
 * event loop to itself, and a server that falls behind shows up as what it is, not as client lag.
 * Tells the parent "ready" over IPC once both ports are bound; exits when the parent goes away.
 */

function listen(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, SERVER_IP, resolve);
  });
}

const sink = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  let receivedBytes = 0;
  socket.on('data', (chunk: Buffer) => {
    receivedBytes += chunk.length;
  });
  // The count lets the client check that every byte it sent arrived, through either path.
  socket.once('end', () => socket.end(`${String(receivedBytes)}\n`));
  socket.on('error', () => socket.destroy());
});

const echo = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});

await listen(sink, SINK_PORT);
await listen(echo, ECHO_PORT);
process.once('disconnect', () => process.exit(0));
process.send?.('ready');
