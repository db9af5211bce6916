import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestPki } from '@ambient/testing';
import { startDemoApp, type DemoApp } from './apps.js';
import { APP_PORT, OUTSIDE_APP, type MeshPlan } from './mesh-plan.js';
import { ZtunnelProcess, type ProcessExit } from './ztunnel-process.js';

export interface StopResult extends ProcessExit {
  readonly node: string;
  /** It did not exit within the bound and was killed. */
  readonly killed: boolean;
}

/**
 * Everything the launcher runs for a plan: a temp dir with a throwaway PKI, one ztunnel child
 * process per node, and the demo apps in this process. Created empty so that a failed start can
 * still be stopped and cleaned up.
 */
export class LocalMesh {
  readonly ztunnels = new Map<string, ZtunnelProcess>();
  private readonly apps: DemoApp[] = [];
  private dirPath: string | undefined;

  constructor(readonly plan: MeshPlan) {}

  /** The temp dir (certificates and ztunnel logs), once made. */
  get dir(): string | undefined {
    return this.dirPath;
  }

  get logPaths(): string[] {
    return [...this.ztunnels.values()].map((z) => z.logPath);
  }

  async start(readyTimeoutMs: number): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'local-mesh-'));
    this.dirPath = dir;
    const certsDir = join(dir, 'certs');
    const pki = await TestPki.create();
    await pki.writeCertificateDir(certsDir, this.plan.identities);

    // Apps first: a ztunnel that is ready can be sent traffic at once.
    for (const workload of this.plan.snapshot.workloads) {
      for (const ip of workload.workloadIps) this.apps.push(await startDemoApp(workload.name, ip, APP_PORT));
    }
    this.apps.push(await startDemoApp(OUTSIDE_APP.name, OUTSIDE_APP.ip, OUTSIDE_APP.port));

    for (const node of this.plan.nodes) {
      this.ztunnels.set(
        node.name,
        ZtunnelProcess.start({
          node: node.name,
          instanceIp: node.instanceIp,
          configPath: this.plan.configPath,
          certsDir,
          logDir: dir,
        }),
      );
    }
    await Promise.all([...this.ztunnels.values()].map((z) => z.waitReady(readyTimeoutMs)));
  }

  /** The first ztunnel to exit, whenever that happens (for noticing one that dies while the mesh runs). */
  firstExit(): Promise<{ node: string; exit: ProcessExit }> {
    return Promise.race(
      [...this.ztunnels.values()].map(async (z) => ({ node: z.node, exit: await z.exited })),
    );
  }

  /** SIGTERM to every ztunnel (they drain), then the apps close. */
  async stop(timeoutMs: number): Promise<StopResult[]> {
    const results = await Promise.all(
      [...this.ztunnels.values()].map(async (z) => ({ node: z.node, ...(await z.stop(timeoutMs)) })),
    );
    await Promise.all(this.apps.splice(0).map((app) => app.close()));
    return results;
  }

  async removeDir(): Promise<void> {
    if (this.dirPath !== undefined) await rm(this.dirPath, { recursive: true, force: true });
  }

  /** On the way out in a hurry: no ztunnel may outlive the launcher. */
  killNow(): void {
    for (const ztunnel of this.ztunnels.values()) ztunnel.killNow();
  }
}
