import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import type { Socket } from 'node:net';

// Test support only (not exported from the package): throwaway network namespaces.

export interface TestNetns {
  name: string;
  /** /var/run/netns/<name>, for nsenter --net and installInpodRules. */
  path: string;
  /** An open fd of the namespace, for setns. */
  fd: number;
  /** Runs a command inside the namespace and returns its stdout. */
  run(command: string, args: readonly string[]): string;
  /** Closes the fd and deletes the namespace. */
  remove(): void;
}

/** A fresh namespace with lo up. Needs root (CAP_SYS_ADMIN). */
export function createTestNetns(prefix = 'redir'): TestNetns {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', name]);
  const path = `/var/run/netns/${name}`;
  const run = (command: string, args: readonly string[]): string =>
    execFileSync('ip', ['netns', 'exec', name, command, ...args], { encoding: 'utf8', stdio: 'pipe' });
  run('ip', ['link', 'set', 'lo', 'up']);
  const fd = openSync(path, 'r');
  return {
    name,
    path,
    fd,
    run,
    remove() {
      closeSync(fd);
      execFileSync('ip', ['netns', 'del', name]);
    },
  };
}

/**
 * 10.200.0.0/24 and fd00:200::/64 on one end of a veth pair whose other end has nothing: routed,
 * but no host answers there, so only a REDIRECT can (the namespace's own .1 excepted).
 */
export function addEmptyNetwork(ns: TestNetns): void {
  ns.run('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'void0']);
  ns.run('ip', ['addr', 'add', '10.200.0.1/24', 'dev', 'eth0']);
  ns.run('ip', ['addr', 'add', 'fd00:200::1/64', 'dev', 'eth0', 'nodad']);
  ns.run('ip', ['link', 'set', 'void0', 'up']);
  ns.run('ip', ['link', 'set', 'eth0', 'up']);
}

export const NEEDS_ROOT =
  'these tests need root (CAP_SYS_ADMIN, CAP_NET_ADMIN) for network namespaces; CI runs them as root';

/** Everything the peer sends until it ends, as text. */
export function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
      socket.end();
    });
    socket.on('error', reject);
  });
}
