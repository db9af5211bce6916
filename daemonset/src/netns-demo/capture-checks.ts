import type { CheckLine } from '../local-mesh/checks.js';
import type { DemoPod } from './demo-plan.js';
import type { NetnsMesh } from './netns-mesh.js';

/** The rules that make capture work, as `iptables-save` prints them (istio-cni's, see inpod-rules). */
const OUTBOUND_REDIRECT = /-A ISTIO_OUTPUT .*-j REDIRECT --to-ports 15001/;
const INBOUND_REDIRECT = /-A ISTIO_PRERT .*-j REDIRECT --to-ports 15006/;
const MARK_RULE = '-A ISTIO_PRERT -m mark --mark 0x539/0xfff -j CONNMARK --set-xmark 0x111/0xfff';
const ROUTING_RULE = 'fwmark 0x111/0xfff lookup 100';

/**
 * Inside every pod: a captured pod has the node agent's redirection (15001 out, 15006 in, the
 * 0x539 mark rule and the fwmark rule to table 100); a pod outside the mesh has none of it.
 */
export async function checkCapture(mesh: NetnsMesh): Promise<CheckLine[]> {
  const checks: CheckLine[] = [];
  for (const pod of mesh.plan.pods) checks.push(await checkPod(mesh, pod));
  return checks;
}

async function checkPod(mesh: NetnsMesh, pod: DemoPod): Promise<CheckLine> {
  const check = (ok: boolean, text: string): CheckLine => ({
    kind: 'capture',
    ok,
    text: `${pod.name}: ${text}`,
    count: 1,
  });
  let iptables: string;
  let ipRules: string;
  try {
    iptables = await run(mesh, pod, 'iptables-nft-save', []);
    ipRules = await run(mesh, pod, 'ip', ['rule', 'show']);
  } catch (err) {
    return check(false, err instanceof Error ? err.message : String(err));
  }
  if (!pod.captured) {
    const clean = !iptables.includes('ISTIO') && !ipRules.includes(ROUTING_RULE);
    return check(
      clean,
      clean
        ? 'no rules: not in the mesh, its traffic goes out as it is'
        : 'has in-pod rules, but is not in the mesh',
    );
  }
  const present = {
    'REDIRECT 15001': OUTBOUND_REDIRECT.test(iptables),
    'REDIRECT 15006': INBOUND_REDIRECT.test(iptables),
    'mark 0x539': iptables.includes(MARK_RULE),
    'fwmark 0x111 → table 100': ipRules.includes(ROUTING_RULE),
  };
  const missing = Object.entries(present)
    .filter(([, found]) => !found)
    .map(([name]) => name);
  return missing.length === 0
    ? check(
        true,
        `outbound TCP → 15001, inbound → 15006, ztunnel's own (mark 0x539) let through, fwmark 0x111 → table 100 (${pod.node}'s node agent)`,
      )
    : check(false, `in-pod rules incomplete: missing ${missing.join(', ')}`);
}

async function run(mesh: NetnsMesh, pod: DemoPod, command: string, args: readonly string[]): Promise<string> {
  const result = await mesh.cluster.exec(pod.netnsName, command, args);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} in ${pod.name}: ${result.stderr.trim()}`);
  return result.stdout;
}
