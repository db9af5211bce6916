import { errorMessage } from '@ambient/core';
import { sleep } from './logged-child.js';
import { describeChanges, viewOfDump, type MeshView } from './mesh-view.js';
import { fetchConfigDump } from './probe.js';
import type { ZtunnelProcess } from './ztunnel-process.js';

const POLL_MS = 100;

/** A ztunnel whose mesh config still differs from the launcher's, and how. */
export interface Lagging {
  readonly node: string;
  /** `policy default/x added` (what the ztunnel lacks, from its point of view), or why it could not be read. */
  readonly differences: readonly string[];
}

/**
 * Waits until every ztunnel's /config_dump shows the mesh the launcher planned from the folder: the
 * control plane reads the same folder and pushes each change over xDS within moments, so a round
 * judged against the folder is judged against what the ztunnels enforce. Resolves with those that
 * had not caught up within `timeoutMs` (none, normally).
 */
export async function waitForZtunnels(
  expected: MeshView,
  ztunnels: Iterable<ZtunnelProcess>,
  timeoutMs: number,
): Promise<Lagging[]> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...ztunnels];
  for (;;) {
    const lagging: Lagging[] = [];
    const caughtUp = new Set<ZtunnelProcess>();
    await Promise.all(
      pending.map(async (ztunnel) => {
        let differences: string[];
        try {
          differences = describeChanges(viewOfDump(await fetchConfigDump(ztunnel)), expected);
        } catch (err) {
          differences = [`/config_dump: ${errorMessage(err)}`];
        }
        if (differences.length === 0) caughtUp.add(ztunnel);
        else lagging.push({ node: ztunnel.node, differences });
      }),
    );
    pending = pending.filter((ztunnel) => !caughtUp.has(ztunnel));
    if (pending.length === 0 || Date.now() >= deadline) return lagging;
    await sleep(POLL_MS);
  }
}
