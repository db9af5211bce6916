import type { SourceProblem } from '@ambient/control-plane';
import { errorMessage } from '@ambient/core';
import type { LocalMesh } from './local-mesh.js';
import { describeProblem, type MeshFolder } from './mesh-folder.js';
import { planMesh } from './mesh-plan.js';
import { waitForZtunnels } from './mesh-sync.js';
import { describeChanges, viewOfSnapshot, type MeshView } from './mesh-view.js';
import { mark } from './report.js';

/** Pushing an edit to the ztunnels takes the control plane moments; this only bounds a stuck one. */
export const SYNC_TIMEOUT_MS = 5_000;

/**
 * `npm start` following edits of the folder between rounds: re-plans from what it says now (the
 * running nodes keep their ztunnels), reports new problems the way the control plane does, starts
 * and stops demo apps for pods that came and went, and waits until the ztunnels hold the new mesh,
 * so that the next round is judged against the policies they enforce.
 */
export class MeshFollower {
  private view: MeshView;
  private shownProblems: Set<string>;
  private refusal: string | undefined;

  /** `shown`: the problems already printed (at startup). */
  constructor(
    private readonly mesh: LocalMesh,
    private readonly folder: MeshFolder,
    shown: readonly SourceProblem[],
  ) {
    this.view = viewOfSnapshot(mesh.plan.snapshot);
    this.shownProblems = new Set(shown.map(describeProblem));
  }

  /** Brings the mesh up to the folder; resolves with the lines worth printing (none if nothing changed). */
  async update(): Promise<string[]> {
    const config = this.folder.current();
    const lines = this.problemLines(config.problems);
    let plan;
    try {
      plan = planMesh(config, this.folder.dir, this.mesh.plan.nodes);
    } catch (err) {
      // Said once while it lasts; the control plane serves the edit, the tour keeps its last plan.
      const refusal = `the mesh config cannot be run here, the tour keeps its previous plan: ${errorMessage(err)}`;
      if (refusal !== this.refusal) lines.push(`${mark(false)} ${refusal}`);
      this.refusal = refusal;
      return lines;
    }
    this.refusal = undefined;
    const view = viewOfSnapshot(plan.snapshot);
    const changes = describeChanges(this.view, view);
    if (changes.length === 0) return lines;
    this.view = view;
    lines.push(`mesh config changed: ${changes.join(', ')}`);
    try {
      const apps = await this.mesh.follow(plan);
      if (apps.started.length > 0) lines.push(`  demo apps started: ${apps.started.join(', ')}`);
      if (apps.stopped.length > 0) lines.push(`  demo apps stopped: ${apps.stopped.join(', ')}`);
    } catch (err) {
      lines.push(`${mark(false)} demo apps: ${errorMessage(err)}`);
    }
    for (const workload of plan.unplaced) {
      lines.push(
        `  ${workload.name} is on ${workload.node || 'no node'}, which has no ztunnel here (restart to add one)`,
      );
    }
    const lagging = await waitForZtunnels(view, this.mesh.ztunnels.values(), SYNC_TIMEOUT_MS);
    for (const { node, differences } of lagging) {
      lines.push(
        `${mark(false)} ${node} has not caught up within ${String(SYNC_TIMEOUT_MS / 1000)} s: ${differences.join(', ')}`,
      );
    }
    return lines;
  }

  /** Each problem once while it lasts, as the control plane logs them; and when the last one is gone. */
  private problemLines(problems: readonly SourceProblem[]): string[] {
    const current = new Set(problems.map(describeProblem));
    const lines = [...current].filter((text) => !this.shownProblems.has(text)).map((text) => `! ${text}`);
    if (current.size === 0 && this.shownProblems.size > 0)
      lines.push(`${mark(true)} mesh config: no problems left`);
    this.shownProblems = current;
    return lines;
  }
}
