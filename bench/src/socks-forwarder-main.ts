import net from 'node:net';
import { socks5Connect } from '@ambient/testing';

/*
 * A plain-TCP entry for tools that cannot speak SOCKS5 (wrk): every connection accepted on
 * <listen> becomes a SOCKS5 CONNECT to <target> through node-a's ztunnel, dialled from the client
 * workload's IP, and bytes are then relayed both ways. It runs on the load generator's core and
 * counts as load-generator cost, never as ztunnel's. Tells the parent "ready" over IPC; exits when
 * the parent goes away. Arguments: one JSON object (ForwarderArgs).
 */

export interface ForwarderArgs {
  readonly listenIp: string;
  readonly listenPort: number;
  readonly proxyIp: string;
  readonly proxyPort: number;
  readonly sourceIp: string;
  readonly targetIp: string;
  readonly targetPort: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ForwarderArgs;

const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (client) => {
  client.on('error', () => client.destroy());
  socks5Connect({
    proxyIp: args.proxyIp,
    proxyPort: args.proxyPort,
    sourceIp: args.sourceIp,
    targetHost: args.targetIp,
    targetPort: args.targetPort,
  }).then(
    (upstream) => {
      upstream.on('error', () => {
        upstream.destroy();
        client.destroy();
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    },
    () => client.destroy(),
  );
});

server.once('error', (err) => {
  process.stderr.write(`forwarder: ${err.message}\n`);
  process.exit(1);
});
server.listen(args.listenPort, args.listenIp, () => process.send?.('ready'));
process.once('disconnect', () => process.exit(0));
