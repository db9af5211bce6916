import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createLogger,
  errorMessage,
  isLogLevel,
  isMeshError,
  logUncaughtErrors,
  stopOnSignals,
} from '@ambient/core';
import { ZDS_SOCKET_PATH } from '@ambient/redirect';
import { NodeAgent } from './node-agent.js';
import { parsePodsFile } from './pods-file.js';
import { watchPodsFile } from './pods-file-watch.js';
import { PodSync } from './pod-sync.js';
import type { MeshPod } from './pod.js';

const USAGE = `usage: ambient-node-agent --pods <pods.yaml> [--socket <path>] [--iptables nft|legacy] [--no-ipv6]

Plays istio-cni's node agent for one node (root needed): installs the in-pod redirection in each
listed pod's network namespace and hands the pods to ztunnel over ZDS.
  --pods      the pods to capture: a YAML list of {uid, name, namespace, serviceAccount, netns}.
              It stands in for the CNI plugin's ADD/DEL calls: watched, an entry added captures a
              pod, an entry removed releases it.
  --socket    where ztunnel connects (its INPOD_UDS); default ${ZDS_SOCKET_PATH}
  --iptables  the iptables backend to use in pods; default nft (Debian's, and istio-cni's there)
  --no-ipv6   only IPv4 rules
Environment: LOG_LEVEL (default info).
`;

interface Options {
  podsPath: string;
  socketPath: string;
  iptables: 'nft' | 'legacy';
  ipv6: boolean;
}

function parseOptions(): Options | string {
  let values;
  try {
    values = parseArgs({
      options: {
        pods: { type: 'string' },
        socket: { type: 'string', default: ZDS_SOCKET_PATH },
        iptables: { type: 'string', default: 'nft' },
        ipv6: { type: 'boolean', default: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowNegative: true,
    }).values;
  } catch (err) {
    return errorMessage(err);
  }
  if (values.help) return '';
  if (values.pods === undefined) return '--pods is required';
  if (values.iptables !== 'nft' && values.iptables !== 'legacy') {
    return `--iptables: expected nft or legacy, got "${values.iptables}"`;
  }
  return {
    podsPath: resolve(values.pods),
    socketPath: resolve(values.socket),
    iptables: values.iptables,
    ipv6: values.ipv6,
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (typeof options === 'string') {
    if (options === '') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    process.stderr.write(`node-agent: ${options}\n${USAGE}`);
    process.exit(2);
  }
  const level = process.env.LOG_LEVEL ?? 'info';
  if (!isLogLevel(level)) {
    process.stderr.write(`node-agent: LOG_LEVEL: unknown level "${level}"\n`);
    process.exit(2);
  }
  const logger = createLogger({ level, base: { component: 'node-agent' } });
  logUncaughtErrors(logger);

  let pods: MeshPod[];
  try {
    pods = parsePodsFile(await readFile(options.podsPath, 'utf8'), options.podsPath);
  } catch (err) {
    process.stderr.write(`node-agent: ${errorMessage(err)}\n`);
    process.exit(2);
  }

  let agent: NodeAgent;
  try {
    mkdirSync(dirname(options.socketPath), { recursive: true });
    agent = NodeAgent.start({
      socketPath: options.socketPath,
      logger,
      rules: { iptables: options.iptables, ipv6: options.ipv6 },
    });
  } catch (err) {
    process.stderr.write(`node-agent: ${isMeshError(err) ? `${err.code}: ` : ''}${errorMessage(err)}\n`);
    process.exit(1);
  }
  const sync = new PodSync(agent, logger);
  // Watching before the first sync: an edit meanwhile is applied after it, not lost.
  const watcher = watchPodsFile(
    options.podsPath,
    (wanted) => {
      void sync.apply(wanted);
    },
    logger,
  );
  stopOnSignals(logger, async () => {
    watcher.close();
    await agent.close();
    logger.info('node agent stopped; the pods keep their rules');
  });
  const initial = await sync.apply(pods);
  logger.info(
    { pods: agent.enrolled.length, failed: initial.failures.length, podsFile: options.podsPath },
    'node agent ready',
  );
}

await main();
