import { startDemoApp } from '../local-mesh/apps.js';

// A pod's application in the netns demo, run inside the pod's network namespace:
// `node pod-app.js <name> <ip> <port>`. The loopback demo's app: it greets with its name, its
// address and the address it saw calling (so a reply shows whether the caller's pod IP survived
// the mesh), answers HTTP requests, and echoes anything else.

const [name, ip, portText] = process.argv.slice(2);
const port = Number(portText);
if (name === undefined || ip === undefined || !Number.isInteger(port)) {
  process.stderr.write('usage: pod-app <name> <ip> <port>\n');
  process.exit(2);
}
const app = await startDemoApp(name, ip, port);
// One JSON line, read by the launcher as "listening".
process.stdout.write(`${JSON.stringify({ message: 'app listening', name, ip, port: app.port })}\n`);
const stop = (): void => {
  void app.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
