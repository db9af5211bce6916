import type { IpFamily } from './addon.js';

// The redirection istio-cni installs inside each enrolled pod's network namespace, as text for
// `iptables-restore --noflush` and arguments for ip(8). Pure: installing is inpod-install.ts.
// Numbers and names are istio-cni's (cni/pkg/config, cni/pkg/iptables), so a pod set up by either
// works with either ztunnel.

/** SO_MARK on every socket ztunnel opens in a pod: the rules let this traffic through uncaptured. */
export const INPOD_MARK = 0x539;
export const INPOD_MASK = 0xfff;
/** Connmark given to connections ztunnel answers, so their replies route back to it (table 100). */
export const INPOD_TPROXY_MARK = 0x111;
export const INPOD_TPROXY_MASK = 0xfff;
export const INPOD_RESTORE_MASK = 0xffffffff;
export const INPOD_ROUTE_TABLE = 100;
export const INPOD_RULE_PRIORITY = 32764;

export const ZTUNNEL_OUTBOUND_PORT = 15001;
export const ZTUNNEL_INBOUND_PLAINTEXT_PORT = 15006;
export const ZTUNNEL_INBOUND_PORT = 15008;
export const ZTUNNEL_DNS_PORT = 15053;

/** Kubelet probes are SNATed to these on the node, so the pod can tell them from real traffic. */
export const HOST_PROBE_SNAT_IPV4 = '169.254.7.127';
export const HOST_PROBE_SNAT_IPV6 = 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff';

export const CHAIN_PREROUTING = 'ISTIO_PRERT';
export const CHAIN_OUTPUT = 'ISTIO_OUTPUT';

export interface InpodRulesOptions {
  /** Capture DNS (UDP and TCP port 53) to ztunnel's 15053; off by default, as istio-cni's default. */
  redirectDns?: boolean;
  probeSnatIpv4?: string;
  probeSnatIpv6?: string;
  /** Interfaces whose inbound traffic is really outbound (KubeVirt, DinD): sent to 15001. */
  virtualInterfaces?: readonly string[];
}

export interface InpodRules {
  /** Input for `iptables-restore --noflush`. */
  ipv4: string;
  /** Input for `ip6tables-restore --noflush`. */
  ipv6: string;
  /** ip(8) argument lists that add the fwmark rule and table 100's local route, per family. */
  routing: { ipv4: string[][]; ipv6: string[][] };
}

type Table = 'mangle' | 'nat' | 'raw';

interface Rule {
  table: Table;
  chain: string;
  args: string;
}

const hex = (value: number): string => `0x${value.toString(16)}`;
const INPOD_MARK_MATCH = `${hex(INPOD_MARK)}/${hex(INPOD_MASK)}`;
const TPROXY_MARK_MATCH = `${hex(INPOD_TPROXY_MARK)}/${hex(INPOD_TPROXY_MASK)}`;

/** The in-pod redirection for both families. */
export function inpodRules(options: InpodRulesOptions = {}): InpodRules {
  return {
    ipv4: restoreText(familyRules(4, options)),
    ipv6: restoreText(familyRules(6, options)),
    routing: { ipv4: inpodRoutingCommands(4, 'add'), ipv6: inpodRoutingCommands(6, 'add') },
  };
}

/**
 * `ip rule`/`ip route` argument lists: marked replies (connmark 0x111) look up table 100, whose
 * only route delivers everything locally, back to ztunnel's sockets. Adding uses `route replace`
 * so a leftover route is not an error.
 */
export function inpodRoutingCommands(family: IpFamily, action: 'add' | 'del'): string[][] {
  const everything = family === 4 ? '0.0.0.0/0' : '::/0';
  const table = String(INPOD_ROUTE_TABLE);
  return [
    [
      `-${String(family)}`,
      'rule',
      action,
      'fwmark',
      TPROXY_MARK_MATCH,
      'pref',
      String(INPOD_RULE_PRIORITY),
      'lookup',
      table,
    ],
    [
      `-${String(family)}`,
      'route',
      action === 'add' ? 'replace' : 'del',
      'local',
      everything,
      'dev',
      'lo',
      'table',
      table,
    ],
  ];
}

function familyRules(family: IpFamily, options: InpodRulesOptions): Rule[] {
  const localhost = family === 4 ? '127.0.0.1/32' : '::1/128';
  const probeSnat =
    family === 4
      ? (options.probeSnatIpv4 ?? HOST_PROBE_SNAT_IPV4)
      : (options.probeSnatIpv6 ?? HOST_PROBE_SNAT_IPV6);
  const dns = options.redirectDns ?? false;
  const rules: Rule[] = [];
  const add = (table: Table, chain: string, args: string): void => {
    rules.push({ table, chain, args });
  };

  // Jumps into our own chains, so removal is: delete the jumps, flush and delete the chains.
  add('mangle', 'PREROUTING', `-j ${CHAIN_PREROUTING}`);
  add('mangle', 'OUTPUT', `-j ${CHAIN_OUTPUT}`);
  add('nat', 'OUTPUT', `-j ${CHAIN_OUTPUT}`);
  if (dns) {
    add('raw', 'PREROUTING', `-j ${CHAIN_PREROUTING}`);
    add('raw', 'OUTPUT', `-j ${CHAIN_OUTPUT}`);
  }
  add('nat', 'PREROUTING', `-j ${CHAIN_PREROUTING}`);

  for (const name of options.virtualInterfaces ?? []) {
    add('nat', CHAIN_PREROUTING, `-i ${name} -p tcp -j REDIRECT --to-ports ${String(ZTUNNEL_OUTBOUND_PORT)}`);
    add('nat', CHAIN_PREROUTING, `-i ${name} -p tcp -j RETURN`);
  }
  // Packets from ztunnel's own sockets (mark 0x539) mark their connection, so replies can be routed back.
  add(
    'mangle',
    CHAIN_PREROUTING,
    `-m mark --mark ${INPOD_MARK_MATCH} -j CONNMARK --set-xmark ${TPROXY_MARK_MATCH}`,
  );
  // Kubelet probes (SNATed on the node) go straight to the app, and so do their replies.
  add('nat', CHAIN_PREROUTING, `-s ${probeSnat} -p tcp -m tcp -j ACCEPT`);
  add('nat', CHAIN_OUTPUT, `-d ${probeSnat} -p tcp -m tcp -j ACCEPT`);
  // Inbound TCP to anything but localhost and HBONE (15008, which ztunnel listens on directly) → 15006.
  add(
    'nat',
    CHAIN_PREROUTING,
    `! -d ${localhost} -p tcp ! --dport ${String(ZTUNNEL_INBOUND_PORT)} -m mark ! --mark ${INPOD_MARK_MATCH} ` +
      `-j REDIRECT --to-ports ${String(ZTUNNEL_INBOUND_PLAINTEXT_PORT)}`,
  );
  add(
    'mangle',
    CHAIN_OUTPUT,
    `-m connmark --mark ${TPROXY_MARK_MATCH} -j CONNMARK --restore-mark ` +
      `--nfmask ${hex(INPOD_RESTORE_MASK)} --ctmask ${hex(INPOD_RESTORE_MASK)}`,
  );
  if (dns) {
    add(
      'nat',
      CHAIN_OUTPUT,
      `! -o lo -p udp -m mark ! --mark ${INPOD_MARK_MATCH} -m udp --dport 53 -j REDIRECT --to-port ${String(ZTUNNEL_DNS_PORT)}`,
    );
    add(
      'nat',
      CHAIN_OUTPUT,
      `! -d ${localhost} -p tcp --dport 53 -m mark ! --mark ${INPOD_MARK_MATCH} -j REDIRECT --to-ports ${String(ZTUNNEL_DNS_PORT)}`,
    );
    // ztunnel's DNS upstream queries and their answers get their own conntrack zone (istio/istio#33469).
    add('raw', CHAIN_OUTPUT, `-p udp -m mark --mark ${INPOD_MARK_MATCH} -m udp --dport 53 -j CT --zone 1`);
    add(
      'raw',
      CHAIN_PREROUTING,
      `-p udp -m mark ! --mark ${INPOD_MARK_MATCH} -m udp --sport 53 -j CT --zone 1`,
    );
  }
  // Replies of connections ztunnel answered leave uncaptured.
  add('nat', CHAIN_OUTPUT, `-p tcp -m mark --mark ${TPROXY_MARK_MATCH} -j ACCEPT`);
  // Traffic to the pod's own non-loopback addresses over lo is the pod talking to itself.
  add('nat', CHAIN_OUTPUT, `! -d ${localhost} -o lo -j ACCEPT`);
  // Everything else outbound over TCP, unless ztunnel sent it → 15001.
  add(
    'nat',
    CHAIN_OUTPUT,
    `! -d ${localhost} -p tcp -m mark ! --mark ${INPOD_MARK_MATCH} -j REDIRECT --to-ports ${String(ZTUNNEL_OUTBOUND_PORT)}`,
  );
  return rules;
}

const TABLE_ORDER: readonly Table[] = ['mangle', 'nat', 'raw'];
const OUR_CHAINS: readonly string[] = [CHAIN_PREROUTING, CHAIN_OUTPUT];

function restoreText(rules: readonly Rule[]): string {
  const lines: string[] = [];
  for (const table of TABLE_ORDER) {
    const tableRules = rules.filter((rule) => rule.table === table);
    if (tableRules.length === 0) continue;
    lines.push(`*${table}`);
    // Declaring a chain creates it (and, under --noflush, empties a leftover one).
    for (const chain of OUR_CHAINS) {
      if (tableRules.some((rule) => rule.chain === chain)) lines.push(`:${chain} - [0:0]`);
    }
    for (const rule of tableRules) lines.push(`-A ${rule.chain} ${rule.args}`);
    lines.push('COMMIT');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * From `iptables-save` output, the `iptables-restore --noflush` input that removes exactly our
 * jumps and chains (every copy of a jump, should one have been added twice), or undefined when
 * none is there. Anything else in the tables is left as it is.
 */
export function inpodRulesRemoval(saved: string): string | undefined {
  const ourJumps = new Set([`-A PREROUTING -j ${CHAIN_PREROUTING}`, `-A OUTPUT -j ${CHAIN_OUTPUT}`]);
  const lines: string[] = [];
  let table: string | undefined;
  let jumps: string[] = [];
  let chains: string[] = [];
  const flush = (): void => {
    if (table !== undefined && (jumps.length > 0 || chains.length > 0)) {
      lines.push(`*${table}`, ...jumps.map((jump) => jump.replace(/^-A /, '-D ')));
      for (const chain of chains) lines.push(`-F ${chain}`, `-X ${chain}`);
      lines.push('COMMIT');
    }
    table = undefined;
    jumps = [];
    chains = [];
  };
  for (const raw of saved.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      flush();
      table = line.slice(1);
    } else if (line === 'COMMIT') {
      flush();
    } else if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0] ?? '';
      if (OUR_CHAINS.includes(chain)) chains.push(chain);
    } else if (ourJumps.has(line)) {
      jumps.push(line);
    }
  }
  flush();
  return lines.length === 0 ? undefined : `${lines.join('\n')}\n`;
}

/** Whether `ip -j rule show` output holds our fwmark rule. */
export function hasInpodRoutingRule(ipRuleJson: string): boolean {
  const wantedMark = hex(INPOD_TPROXY_MARK);
  const wantedMask = hex(INPOD_TPROXY_MASK);
  return parseJsonArray(ipRuleJson).some(
    (rule) =>
      rule.priority === INPOD_RULE_PRIORITY &&
      rule.table === String(INPOD_ROUTE_TABLE) &&
      rule.fwmark === wantedMark &&
      rule.fwmask === wantedMask,
  );
}

/** Whether `ip -j route show table 100` output holds our local default route via lo. */
export function hasInpodRoute(ipRouteJson: string): boolean {
  return parseJsonArray(ipRouteJson).some(
    (route) => route.type === 'local' && route.dst === 'default' && route.dev === 'lo',
  );
}

function parseJsonArray(text: string): Record<string, unknown>[] {
  if (text.trim() === '') return [];
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) return [];
  return parsed.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null);
}
