import type { StateSnapshot } from '@ambient/state';

/**
 * The parts of a mesh the tour depends on, keyed (`pod <uid>`, `service <key>`, `policy <key>`),
 * each as canonical JSON: built the same way from the launcher's plan and from a ztunnel's
 * /config_dump, so the two can be compared, and two plans can be told apart.
 */
export type MeshView = ReadonlyMap<string, string>;

/** The view of a converted snapshot, through the JSON shape /config_dump gives it. */
export function viewOfSnapshot(snapshot: StateSnapshot): MeshView {
  return viewOfDump(
    JSON.parse(
      JSON.stringify({
        workloads: snapshot.workloads.map((w) => ({
          ...w,
          services: Object.fromEntries(
            [...w.services].map(([key, ports]) => [key, Object.fromEntries(ports)]),
          ),
        })),
        services: snapshot.services,
        policies: snapshot.authorizations ?? [],
      }),
    ),
  );
}

/** The view of a ztunnel's /config_dump (`workloads`, `services`, `policies`); anything else is ignored. */
export function viewOfDump(dump: unknown): MeshView {
  const view = new Map<string, string>();
  if (!isRecord(dump)) return view;
  for (const workload of records(dump.workloads)) {
    const { uid, name, namespace, node, workloadIps, tunnelProtocol, identity, services } = workload;
    const policies = Array.isArray(workload.authorizationPolicies)
      ? [...(workload.authorizationPolicies as unknown[])].map(String).sort()
      : [];
    view.set(
      `pod ${String(uid)}`,
      canonicalJson({
        name,
        namespace,
        node,
        workloadIps,
        tunnelProtocol,
        identity,
        services,
        policies,
      }),
    );
  }
  for (const service of records(dump.services)) {
    const { key, vips, ports } = service;
    view.set(`service ${String(key)}`, canonicalJson({ vips, ports }));
  }
  for (const policy of records(dump.policies))
    view.set(`policy ${String(policy.key)}`, canonicalJson(policy));
  return view;
}

/** What differs between two views, one phrase each: `policy default/x removed`, `pod … changed`. */
export function describeChanges(before: MeshView, after: MeshView): string[] {
  const changes: string[] = [];
  for (const [key, value] of after) {
    const old = before.get(key);
    if (old === undefined) changes.push(`${shortKey(key)} added`);
    else if (old !== value) changes.push(`${shortKey(key)} changed`);
  }
  for (const key of before.keys()) if (!after.has(key)) changes.push(`${shortKey(key)} removed`);
  return changes;
}

/** `pod Kubernetes//Pod/default/sleep` → `pod default/sleep`: one cluster here. */
function shortKey(key: string): string {
  return key.replace(/^pod [^/]*\/\/Pod\//, 'pod ');
}

/** JSON with every object's keys sorted, so equal values give equal text whatever built them. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    isRecord(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? (value as unknown[]).filter(isRecord) : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
