import { errorMessage, type Logger } from '@ambient/core';
import type { NodeAgent } from './node-agent.js';
import { podChanges, podLabel, type MeshPod } from './pod.js';

export interface SyncResult {
  readonly added: number;
  readonly removed: number;
  /** One line per pod that could not be added or removed (already logged). */
  readonly failures: readonly string[];
}

/**
 * Brings the agent's pods to a wanted list, one list after another: each is compared with what
 * is enrolled when its turn comes, so a pod that failed before is tried again with the next list.
 * A failing pod is logged and does not stop the others.
 */
export class PodSync {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly agent: NodeAgent,
    private readonly logger: Logger,
  ) {}

  apply(wanted: readonly MeshPod[]): Promise<SyncResult> {
    const run = (): Promise<SyncResult> => this.applyNow(wanted);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async applyNow(wanted: readonly MeshPod[]): Promise<SyncResult> {
    const changes = podChanges(this.agent.enrolled, wanted);
    const failures: string[] = [];
    let removed = 0;
    let added = 0;
    for (const uid of changes.remove) {
      try {
        if (await this.agent.removePod(uid)) removed++;
      } catch (err) {
        failures.push(`removing ${uid}: ${errorMessage(err)}`);
        this.logger.error({ uid, err: errorMessage(err) }, 'removing a pod failed');
      }
    }
    for (const pod of changes.add) {
      try {
        await this.agent.addPod(pod);
        added++;
      } catch (err) {
        failures.push(`adding ${podLabel(pod)}: ${errorMessage(err)}`);
        this.logger.error(
          { uid: pod.uid, pod: podLabel(pod), err: errorMessage(err) },
          'capturing a pod failed',
        );
      }
    }
    return { added, removed, failures };
  }
}
