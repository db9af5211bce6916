import { describe, expect, it } from 'vitest';
import {
  convertAddress,
  convertAuthorization,
  encodeAuthorization,
  encodeService,
  encodeWorkload,
  type StateSnapshot,
  type Workload,
} from '@ambient/state';
import { EXAMPLE_MESH_DIR, readMeshFolder } from './mesh-folder.js';
import { describeChanges, viewOfDump, viewOfSnapshot } from './mesh-view.js';

const { snapshot: EXAMPLE } = await readMeshFolder(EXAMPLE_MESH_DIR);

/** What a ztunnel that got `snapshot` over xDS shows on /config_dump (its shape: services as objects). */
function dumpAfterXds(snapshot: StateSnapshot): unknown {
  const workloads: Workload[] = [];
  const services = [];
  for (const workload of snapshot.workloads) {
    const converted = convertAddress(workload.uid, encodeWorkload(workload));
    if (converted.kind === 'workload') workloads.push(converted.workload);
  }
  for (const service of snapshot.services) {
    const converted = convertAddress(service.key, encodeService(service));
    if (converted.kind === 'service') services.push(converted.service);
  }
  const policies = (snapshot.authorizations ?? []).map((p) =>
    convertAuthorization(p.key, encodeAuthorization(p)),
  );
  return JSON.parse(
    JSON.stringify({
      stateSource: { source: 'xds' },
      // Another order than the plan's: the view must not care.
      workloads: workloads.reverse().map((w) => ({
        ...w,
        services: Object.fromEntries([...w.services].map(([k, v]) => [k, Object.fromEntries(v)])),
      })),
      services,
      policies,
      certificates: [],
    }),
  ) as unknown;
}

describe('MeshView', () => {
  it("is the same for the launcher's plan and a ztunnel that got it over xDS", () => {
    const view = viewOfSnapshot(EXAMPLE);
    expect([...view.keys()].sort()).toEqual([
      'pod Kubernetes//Pod/default/echo-v1',
      'pod Kubernetes//Pod/default/echo-v2',
      'pod Kubernetes//Pod/default/legacy',
      'pod Kubernetes//Pod/default/productpage',
      'pod Kubernetes//Pod/default/reviews',
      'pod Kubernetes//Pod/default/sleep',
      'policy default/reviews-callers',
      'service default/echo.default.svc.cluster.local',
    ]);
    expect(describeChanges(viewOfDump(dumpAfterXds(EXAMPLE)), view)).toEqual([]);
  });

  it('names what an edit changed: a policy removed also changes the pod it selected', () => {
    const withoutPolicy: StateSnapshot = {
      workloads: EXAMPLE.workloads.map((w) => ({ ...w, authorizationPolicies: [] })),
      services: EXAMPLE.services,
      authorizations: [],
    };
    expect(describeChanges(viewOfSnapshot(EXAMPLE), viewOfSnapshot(withoutPolicy))).toEqual([
      'pod default/reviews changed',
      'policy default/reviews-callers removed',
    ]);
    const moved = EXAMPLE.workloads.map((w) =>
      w.name === 'sleep' ? { ...w, workloadIps: ['127.0.1.9'] } : w,
    );
    expect(
      describeChanges(viewOfSnapshot(EXAMPLE), viewOfSnapshot({ ...EXAMPLE, workloads: moved })),
    ).toEqual(['pod default/sleep changed']);
  });

  it('sees nothing in a dump that is not one', () => {
    expect(viewOfDump('not json').size).toBe(0);
    expect(describeChanges(viewOfDump({}), viewOfSnapshot(EXAMPLE))).toHaveLength(8);
  });
});
