import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoApp, type DemoApp } from './apps.js';
import { CaProcess } from './ca-process.js';
import { writeNodeTokens } from './ca-tokens.js';
import type { ProcessExit } from './logged-child.js';
import { APP_PORT, CA_LISTEN, OUTSIDE_APP, type MeshPlan } from './mesh-plan.js';
import { ZtunnelProcess } from './ztunnel-process.js';

export interface StopResult extends ProcessExit {
  /** `node-a`, or `CA` for the control plane. */
  readonly name: string;
  readonly role: 'ztunnel' | 'ca';
  /** It did not exit within the bound and was killed. */
  readonly killed: boolean;
}

/** A child that ended on its own while the mesh was meant to run. */
export interface UnexpectedExit {
  /** `ztunnel node-a`, `the CA`. */
  readonly who: string;
  readonly exit: ProcessExit;
}

/**
 * Everything the launcher runs for a plan: a temp dir, the control plane's CA (the one issuer of
 * every certificate), one ztunnel child process per node, and the demo apps in this process.
 * Created empty so that a failed start can still be stopped and cleaned up.
 *
 * The temp dir: `<node>.log` and `<node>.stderr.log` per ztunnel; `control-plane/` with the CA's
 * logs, its token list and its state (`state/root-cert.pem`, the trust bundle, and the root's
 * key); `tokens/<node>.token`, each ztunnel's AUTH_TOKEN.
 */
export class LocalMesh {
  readonly ztunnels = new Map<string, ZtunnelProcess>();
  private caProcess: CaProcess | undefined;
  private readonly apps: DemoApp[] = [];
  private dirPath: string | undefined;

  constructor(readonly plan: MeshPlan) {}

  /** The temp dir (CA state, tokens and every log), once made. */
  get dir(): string | undefined {
    return this.dirPath;
  }

  get ca(): CaProcess | undefined {
    return this.caProcess;
  }

  /** Every child's stdout log, the CA's first. */
  get logPaths(): string[] {
    return [
      ...(this.caProcess ? [this.caProcess.logPath] : []),
      ...[...this.ztunnels.values()].map((z) => z.logPath),
    ];
  }

  /** Every child's logs, stdout and stderr side by side, the CA's first. */
  get logPairs(): [string, string][] {
    return [...(this.caProcess ? [this.caProcess] : []), ...this.ztunnels.values()].map((child) => [
      child.logPath,
      child.stderrPath,
    ]);
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

    // The CA first: a ztunnel asks it for its certificates before it becomes ready.
    const ca = CaProcess.start({
      listen: CA_LISTEN,
      stateDir: join(caDir, 'state'),
      tokensFile: tokens.tokensFile,
      configPath: this.plan.configPath,
      logDir: caDir,
    });
    this.caProcess = ca;
    await ca.waitReady(readyTimeoutMs);

    // Apps before the ztunnels: a ztunnel that is ready can be sent traffic at once.
    for (const workload of this.plan.snapshot.workloads) {
      for (const ip of workload.workloadIps) this.apps.push(await startDemoApp(workload.name, ip, APP_PORT));
    }
    this.apps.push(await startDemoApp(OUTSIDE_APP.name, OUTSIDE_APP.ip, OUTSIDE_APP.port));

    for (const node of this.plan.nodes) {
      const tokenPath = tokens.tokenPaths.get(node.name);
      if (tokenPath === undefined) throw new Error(`no CA token was written for node ${node.name}`);
      this.ztunnels.set(
        node.name,
        ZtunnelProcess.start({
          node: node.name,
          instanceIp: node.instanceIp,
          configPath: this.plan.configPath,
          ca: { address: ca.address, rootCertPath: ca.rootCertPath, tokenPath },
          logDir: dir,
        }),
      );
    }
    await Promise.all([...this.ztunnels.values()].map((z) => z.waitReady(readyTimeoutMs)));
  }

  /** The first child to exit, whenever that happens (for noticing one that dies while the mesh runs). */
  firstExit(): Promise<UnexpectedExit> {
    const ztunnels = [...this.ztunnels.values()].map(async (z) => ({
      who: `ztunnel ${z.node}`,
      exit: await z.exited,
    }));
    const ca = this.caProcess;
    const caExit = ca ? [ca.exited.then((exit) => ({ who: 'the CA', exit }))] : [];
    return Promise.race([...ztunnels, ...caExit]);
  }

  /**
   * SIGTERM to every ztunnel (they drain), then the apps close, then SIGTERM to the CA: last, as a
   * ztunnel may still ask it for a certificate until it has stopped.
   */
  async stop(timeoutMs: number): Promise<StopResult[]> {
    const results: StopResult[] = await Promise.all(
      [...this.ztunnels.values()].map(async (z) => ({
        name: z.node,
        role: 'ztunnel' as const,
        ...(await z.stop(timeoutMs)),
      })),
    );
    await Promise.all(this.apps.splice(0).map((app) => app.close()));
    if (this.caProcess) results.push({ name: 'CA', role: 'ca', ...(await this.caProcess.stop(timeoutMs)) });
    return results;
  }

  async removeDir(): Promise<void> {
    if (this.dirPath !== undefined) await rm(this.dirPath, { recursive: true, force: true });
  }

  /** On the way out in a hurry: no child may outlive the launcher. */
  killNow(): void {
    for (const ztunnel of this.ztunnels.values()) ztunnel.killNow();
    this.caProcess?.killNow();
  }
}
