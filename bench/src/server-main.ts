import net from 'node:net';
import { ECHO_PORT, SERVER_IP, SHORT_MESSAGE_BYTES, SHORT_PORT, SINK_PORT } from './topology.js';

/*
 * The app side of every L4 flow, in its own process: the load client then has the bench process's
 * event loop to itself, and a server that falls behind shows up as what it is, not as client lag.
 * Tells the parent "ready" over IPC once every port is bound; exits when the parent goes away.
 */

function listen(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: SERVER_IP, backlog: 4096 }, resolve);
  });
}

const sink = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  let receivedBytes = 0;
  socket.on('data', (chunk: Buffer) => {
    receivedBytes += chunk.length;
  });
  // The count lets the client check that every byte it sent arrived, through any path.
  socket.once('end', () => socket.end(`${String(receivedBytes)}\n`));
  socket.on('error', () => socket.destroy());
});

const echo = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});

const short = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  let receivedBytes = 0;
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    receivedBytes += chunk.length;
    socket.write(chunk);
    if (receivedBytes >= SHORT_MESSAGE_BYTES) socket.end();
  });
  // The client has already seen this side close; its own FIN needs no answer.
  socket.once('end', () => socket.destroy());
});

await listen(sink, SINK_PORT);
await listen(echo, ECHO_PORT);
await listen(short, SHORT_PORT);
process.once('disconnect', () => process.exit(0));
process.send?.('ready');
