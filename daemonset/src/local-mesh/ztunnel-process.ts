import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogFeed } from './log-feed.js';
import { LoggedChild, sleep, type ProcessExit } from './logged-child.js';

/** The ztunnel binary built beside this launcher (daemonset/dist/main.js). */
const ZTUNNEL_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
const READINESS_PORT = 15021;
const READINESS_POLL_MS = 100;

/**
 * How a ztunnel reaches the control plane, which issues its workloads' certificates and serves it
 * the mesh over Delta xDS, both on the same TLS port.
 */
export interface ZtunnelControlPlaneOptions {
  /** CA_ADDRESS, `ip:port`; XDS_ADDRESS is `https://` the same. */
  readonly address: string;
  /** CA_ROOT_CA and XDS_ROOT_CA: the trust bundle its serving certificate chains to. */
  readonly rootCertPath: string;
  /** AUTH_TOKEN: the file with this node's bearer token (for certificates and for xDS). */
  readonly tokenPath: string;
}

export interface ZtunnelProcessOptions {
  readonly node: string;
  readonly instanceIp: string;
  readonly controlPlane: ZtunnelControlPlaneOptions;
  /** Where `<node>.log` (stdout, NDJSON) and `<node>.stderr.log` go. */
  readonly logDir: string;
}

/** One ztunnel as a child process, its NDJSON stdout kept in a file and parsed into a feed. */
export class ZtunnelProcess {
  readonly logPath: string;
  readonly stderrPath: string;
  private readonly child: LoggedChild;

  private constructor(readonly options: ZtunnelProcessOptions) {
    this.logPath = join(options.logDir, `${options.node}.log`);
    this.stderrPath = join(options.logDir, `${options.node}.stderr.log`);
    this.child = new LoggedChild({
      script: ZTUNNEL_MAIN,
      env: {
        // Only what Node needs: an operator's ADMIN_PORT or the like must not leak into the demo.
        PATH: process.env.PATH ?? '',
        NODE_NAME: options.node,
        INSTANCE_IP: options.instanceIp,
        // Workloads, services and policies from the control plane (TLS, checked against its root),
        // as from istiod: no LOCAL_XDS_PATH.
        XDS_ADDRESS: `https://${options.controlPlane.address}`,
        XDS_ROOT_CA: options.controlPlane.rootCertPath,
        // Every certificate comes from the CA: no WORKLOAD_CERTS_DIR.
        CA_ADDRESS: options.controlPlane.address,
        CA_ROOT_CA: options.controlPlane.rootCertPath,
        AUTH_TOKEN: options.controlPlane.tokenPath,
        LOG_LEVEL: 'info',
      },
      logPath: this.logPath,
      stderrPath: this.stderrPath,
    });
  }

  static start(options: ZtunnelProcessOptions): ZtunnelProcess {
    return new ZtunnelProcess(options);
  }

  get logs(): LogFeed {
    return this.child.logs;
  }

  /** Settles when the process has exited, however that happened. */
  get exited(): Promise<ProcessExit> {
    return this.child.exited;
  }

  get node(): string {
    return this.options.node;
  }

  get instanceIp(): string {
    return this.options.instanceIp;
  }

  get running(): boolean {
    return this.child.running;
  }

  /**
   * Polls `/healthz/ready` until it answers 200; fails early if the process exits. A ztunnel is
   * ready only once it has the control plane's complete mesh config and the CA has issued a
   * certificate for every mesh identity on its node.
   */
  async waitReady(timeoutMs: number): Promise<void> {
    const url = `http://${this.instanceIp}:${String(READINESS_PORT)}/healthz/ready`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exit = this.child.exitStatus;
      if (exit !== undefined) {
        throw new Error(
          `ztunnel ${this.node} exited during startup (${await this.child.describeEarlyExit(exit)})`,
        );
      }
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(READINESS_POLL_MS * 10) });
        if (response.status === 200) return;
        await response.body?.cancel();
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline)
        throw new Error(`ztunnel ${this.node} was not ready within ${String(timeoutMs)} ms`);
      await sleep(READINESS_POLL_MS);
    }
  }

  /** SIGTERM (the ztunnel drains), then SIGKILL if it has not exited within `timeoutMs`. */
  stop(timeoutMs: number): Promise<ProcessExit & { readonly killed: boolean }> {
    return this.child.stop(timeoutMs);
  }

  /** Last resort on the way out (the launcher's own exit): no drain, no waiting. */
  killNow(): void {
    this.child.killNow();
  }
}
