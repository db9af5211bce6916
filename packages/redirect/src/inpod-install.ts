import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { ErrorCode, MeshError, errorMessage } from '@ambient/core';
import type { IpFamily } from './addon.js';
import {
  hasInpodRoute,
  hasInpodRoutingRule,
  inpodRoutingCommands,
  inpodRules,
  inpodRulesRemoval,
  INPOD_ROUTE_TABLE,
  type InpodRulesOptions,
} from './inpod-rules.js';

export interface InpodInstallOptions extends InpodRulesOptions {
  /** Also install the IPv6 rules (ip6tables, and the IPv6 route when lo has IPv6). Default true. */
  ipv6?: boolean;
  /** Which iptables backend; nft is Debian's default and what istio-cni picks on such hosts. */
  iptables?: 'nft' | 'legacy';
}

/**
 * Installs the in-pod redirection in the network namespace at `netnsPath` (a /proc/<pid>/ns/net
 * or /var/run/netns/<name> path): one atomic `iptables-restore --noflush` per family, then the
 * routing rule and table 100. Leftovers of an earlier install are removed first, so installing
 * twice gives the same state. Refuses the namespace this process runs in: the host's rules are
 * never touched. Fails with MESH_ERR_REDIRECT_RULES_FAILED, after undoing what it had added.
 */
export async function installInpodRules(netnsPath: string, options: InpodInstallOptions = {}): Promise<void> {
  assertPodNamespace(netnsPath);
  await removeInpodRules(netnsPath, options);
  const rules = inpodRules(options);
  const families = familiesOf(options);
  try {
    // Routing first: once packets are marked, their route must exist.
    for (const family of families) {
      if (family === 6 && !(await loopbackHasIpv6(netnsPath))) continue;
      for (const args of inpodRoutingCommands(family, 'add')) await inNetns(netnsPath, 'ip', args);
    }
    for (const family of families) {
      await inNetns(
        netnsPath,
        iptablesCommand(family, 'restore', options),
        ['--noflush'],
        family === 4 ? rules.ipv4 : rules.ipv6,
      );
    }
  } catch (err) {
    await removeInpodRules(netnsPath, options).catch(() => undefined);
    throw failed(`installing the in-pod rules in ${netnsPath} failed`, err);
  }
}

/**
 * Removes exactly what installInpodRules adds: our jumps and chains (found with iptables-save),
 * the fwmark rule and table 100's route, each only if present. Other rules are left alone.
 */
export async function removeInpodRules(netnsPath: string, options: InpodInstallOptions = {}): Promise<void> {
  assertPodNamespace(netnsPath);
  try {
    for (const family of familiesOf(options)) {
      const saved = await inNetns(netnsPath, iptablesCommand(family, 'save', options), []);
      const removal = inpodRulesRemoval(saved);
      if (removal !== undefined) {
        await inNetns(netnsPath, iptablesCommand(family, 'restore', options), ['--noflush'], removal);
      }
      const [ruleDel, routeDel] = inpodRoutingCommands(family, 'del');
      const ruleList = await listOrEmpty(netnsPath, [`-${String(family)}`, '-j', 'rule', 'show']);
      if (ruleDel !== undefined && hasInpodRoutingRule(ruleList)) await inNetns(netnsPath, 'ip', ruleDel);
      const routeList = await listOrEmpty(netnsPath, [
        `-${String(family)}`,
        '-j',
        'route',
        'show',
        'table',
        String(INPOD_ROUTE_TABLE),
      ]);
      if (routeDel !== undefined && hasInpodRoute(routeList)) await inNetns(netnsPath, 'ip', routeDel);
    }
  } catch (err) {
    throw failed(`removing the in-pod rules from ${netnsPath} failed`, err);
  }
}

function familiesOf(options: InpodInstallOptions): IpFamily[] {
  return options.ipv6 === false ? [4] : [4, 6];
}

function iptablesCommand(family: IpFamily, tool: 'save' | 'restore', options: InpodInstallOptions): string {
  return `${family === 4 ? 'iptables' : 'ip6tables'}-${options.iptables ?? 'nft'}-${tool}`;
}

// A namespace whose lo has IPv6 disabled cannot take an IPv6 local route (istio-cni skips it too).
async function loopbackHasIpv6(netnsPath: string): Promise<boolean> {
  try {
    return (await inNetns(netnsPath, 'cat', ['/proc/sys/net/ipv6/conf/lo/disable_ipv6'])).trim() === '0';
  } catch {
    return false;
  }
}

// Listing IPv6 state fails where the kernel has no IPv6: then there is nothing of ours to remove.
async function listOrEmpty(netnsPath: string, args: readonly string[]): Promise<string> {
  try {
    return await inNetns(netnsPath, 'ip', args);
  } catch {
    return '';
  }
}

function assertPodNamespace(netnsPath: string): void {
  let target: { dev: number; ino: number };
  try {
    target = statSync(netnsPath);
  } catch (err) {
    throw failed(`cannot use network namespace ${netnsPath}`, err);
  }
  const own = statSync('/proc/self/ns/net');
  if (target.dev === own.dev && target.ino === own.ino) {
    throw new MeshError(
      ErrorCode.RedirectRulesFailed,
      `${netnsPath} is this process's own network namespace: refusing to change the host's rules`,
    );
  }
}

/** Runs `command args` inside the namespace (nsenter --net) and resolves with its stdout. */
function inNetns(
  netnsPath: string,
  command: string,
  args: readonly string[],
  input?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${netnsPath}`, '--', command, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    // A command that exits without reading its input must not turn into an EPIPE crash.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      if (code === 0) {
        resolve(Buffer.concat(stdout).toString('utf8'));
        return;
      }
      const detail = Buffer.concat(stderr).toString('utf8').trim();
      reject(new Error(`${command} ${args.join(' ')} exited with ${String(code)}: ${detail}`));
    });
    child.stdin.end(input ?? '');
  });
}

function failed(message: string, cause: unknown): MeshError {
  return new MeshError(ErrorCode.RedirectRulesFailed, `${message}: ${errorMessage(cause)}`, { cause });
}
