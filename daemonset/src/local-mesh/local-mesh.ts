import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoApp, type DemoApp } from './apps.js';
import { writeNodeTokens } from './ca-tokens.js';
import { ControlPlaneProcess } from './control-plane-process.js';
import type { ProcessExit } from './logged-child.js';
import { APP_PORT, CA_LISTEN, OUTSIDE_APP, type MeshPlan } from './mesh-plan.js';
import { ZtunnelProcess } from './ztunnel-process.js';

export interface StopResult extends ProcessExit {
  /** `node-a`, or `control plane`. */
  readonly name: string;
  readonly role: 'ztunnel' | 'control-plane';
  /** It did not exit within the bound and was killed. */
  readonly killed: boolean;
}

/** A child that ended on its own while the mesh was meant to run. */
export interface UnexpectedExit {
  /** `ztunnel node-a`, `the control plane`. */
  readonly who: string;
  readonly exit: ProcessExit;
}

/** How the demo apps changed to follow a new plan. */
export interface AppChanges {
  /** `name ip` of each app started or stopped. */
  readonly started: readonly string[];
  readonly stopped: readonly string[];
}

/**
 * Everything the launcher runs for a plan: a temp dir, the control plane (the one issuer of every
 * certificate, and the mesh config over xDS from the folder), one ztunnel child process per node,
 * and the demo apps in this process (one per pod IP, following the plan). Created empty so that a
 * failed start can still be stopped and cleaned up.
 *
 * The temp dir: `<node>.log` and `<node>.stderr.log` per ztunnel; `control-plane/` with the control
 * plane's logs, its token list and its CA state (`state/root-cert.pem`, the trust bundle, and the
 * root's key); `tokens/<node>.token`, each ztunnel's AUTH_TOKEN.
 */
export class LocalMesh {
  readonly ztunnels = new Map<string, ZtunnelProcess>();
  private controlPlaneProcess: ControlPlaneProcess | undefined;
  /** By IP: a pod's app, and the server outside the mesh. */
  private readonly apps = new Map<string, DemoApp>();
  private dirPath: string | undefined;
  private currentPlan: MeshPlan;

  constructor(plan: MeshPlan) {
    this.currentPlan = plan;
  }

  /** The plan the apps follow now (the first one, or the latest `follow` was given). */
  get plan(): MeshPlan {
    return this.currentPlan;
  }

  /** The temp dir (CA state, tokens and every log), once made. */
  get dir(): string | undefined {
    return this.dirPath;
  }

  get controlPlane(): ControlPlaneProcess | undefined {
    return this.controlPlaneProcess;
  }

  /** Every child's stdout log, the control plane's first. */
  get logPaths(): string[] {
    return [
      ...(this.controlPlaneProcess ? [this.controlPlaneProcess.logPath] : []),
      ...[...this.ztunnels.values()].map((z) => z.logPath),
    ];
  }

  /** Every child's logs, stdout and stderr side by side, the control plane's first. */
  get logPairs(): [string, string][] {
    const children = [
      ...(this.controlPlaneProcess ? [this.controlPlaneProcess] : []),
      ...this.ztunnels.values(),
    ];
    return children.map((child) => [child.logPath, child.stderrPath]);
  }

  async start(readyTimeoutMs: number): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'local-mesh-'));
    this.dirPath = dir;
    const caDir = join(dir, 'control-plane');
    const tokens = await writeNodeTokens(
      this.plan.nodes.map((node) => node.name),
      caDir,
      join(dir, 'tokens'),
    );

    // The control plane first: a ztunnel asks it for its mesh config and certificates before it
    // becomes ready.
    const controlPlane = ControlPlaneProcess.start({
      listen: CA_LISTEN,
      stateDir: join(caDir, 'state'),
      tokensFile: tokens.tokensFile,
      configDir: this.plan.configDir,
      logDir: caDir,
    });
    this.controlPlaneProcess = controlPlane;
    await controlPlane.waitReady(readyTimeoutMs);

    // Apps before the ztunnels: a ztunnel that is ready can be sent traffic at once.
    await this.follow(this.plan);

    for (const node of this.plan.nodes) {
      const tokenPath = tokens.tokenPaths.get(node.name);
      if (tokenPath === undefined) throw new Error(`no CA token was written for node ${node.name}`);
      this.ztunnels.set(
        node.name,
        ZtunnelProcess.start({
          node: node.name,
          instanceIp: node.instanceIp,
          controlPlane: { address: controlPlane.address, rootCertPath: controlPlane.rootCertPath, tokenPath },
          logDir: dir,
        }),
      );
    }
    await Promise.all([...this.ztunnels.values()].map((z) => z.waitReady(readyTimeoutMs)));
  }

  /**
   * Makes the demo apps match `plan`: an app on every pod IP of its workloads (and the server
   * outside the mesh); apps of pods that are gone are closed, and an IP that now belongs to another
   * pod gets that pod's app. From then on `plan` is the mesh's plan.
   */
  async follow(plan: MeshPlan): Promise<AppChanges> {
    this.currentPlan = plan;
    const wanted = new Map<string, string>([[OUTSIDE_APP.ip, OUTSIDE_APP.name]]);
    for (const workload of plan.snapshot.workloads) {
      for (const ip of workload.workloadIps) if (!wanted.has(ip)) wanted.set(ip, workload.name);
    }
    const stopped: string[] = [];
    for (const [ip, app] of this.apps) {
      if (wanted.get(ip) === app.name) continue;
      this.apps.delete(ip);
      await app.close();
      stopped.push(`${app.name} ${ip}`);
    }
    const started: string[] = [];
    for (const [ip, name] of wanted) {
      if (this.apps.has(ip)) continue;
      this.apps.set(ip, await startDemoApp(name, ip, ip === OUTSIDE_APP.ip ? OUTSIDE_APP.port : APP_PORT));
      started.push(`${name} ${ip}`);
    }
    return { started, stopped };
  }

  /** The first child to exit, whenever that happens (for noticing one that dies while the mesh runs). */
  firstExit(): Promise<UnexpectedExit> {
    const ztunnels = [...this.ztunnels.values()].map(async (z) => ({
      who: `ztunnel ${z.node}`,
      exit: await z.exited,
    }));
    const controlPlane = this.controlPlaneProcess;
    const controlPlaneExit = controlPlane
      ? [controlPlane.exited.then((exit) => ({ who: 'the control plane', exit }))]
      : [];
    return Promise.race([...ztunnels, ...controlPlaneExit]);
  }

  /**
   * SIGTERM to every ztunnel (they drain), then the apps close, then SIGTERM to the control plane:
   * last, as a ztunnel may still ask it for a certificate until it has stopped.
   */
  async stop(timeoutMs: number): Promise<StopResult[]> {
    const results: StopResult[] = await Promise.all(
      [...this.ztunnels.values()].map(async (z) => ({
        name: z.node,
        role: 'ztunnel' as const,
        ...(await z.stop(timeoutMs)),
      })),
    );
    const apps = [...this.apps.values()];
    this.apps.clear();
    await Promise.all(apps.map((app) => app.close()));
    if (this.controlPlaneProcess) {
      const exit = await this.controlPlaneProcess.stop(timeoutMs);
      results.push({ name: 'control plane', role: 'control-plane', ...exit });
    }
    return results;
  }

  async removeDir(): Promise<void> {
    if (this.dirPath !== undefined) await rm(this.dirPath, { recursive: true, force: true });
  }

  /** On the way out in a hurry: no child may outlive the launcher. */
  killNow(): void {
    for (const ztunnel of this.ztunnels.values()) ztunnel.killNow();
    this.controlPlaneProcess?.killNow();
  }
}
