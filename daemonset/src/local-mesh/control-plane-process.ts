import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CA_ROOT_CERT_FILE } from '@ambient/control-plane';
import { formatSocketAddress, type SocketAddress } from '@ambient/core';
import type { LogFeed } from './log-feed.js';
import { LoggedChild, type ProcessExit } from './logged-child.js';
import { controlPlaneConvertEnv } from './mesh-folder.js';

/**
 * What the control plane logs once its TLS listener is bound. It converts the folder before it
 * binds, so from then on a ztunnel gets both its certificates and a complete mesh config.
 */
const LISTENING_MESSAGE = 'CA listening';

export interface ControlPlaneProcessOptions {
  readonly listen: SocketAddress;
  /** CA_STATE_DIR: it creates its self-signed root here and writes root-cert.pem. */
  readonly stateDir: string;
  /** CA_TOKENS_FILE. */
  readonly tokensFile: string;
  /** CONFIG_DIR: the folder of Kubernetes YAML it converts and serves over xDS (and watches). */
  readonly configDir: string;
  /** Where `control-plane.log` (stdout, NDJSON) and `control-plane.stderr.log` go. */
  readonly logDir: string;
}

/**
 * The control plane as a child process: the one issuer of every certificate in the local mesh, and
 * the source of its workloads, services and policies (Delta xDS, from the folder it watches).
 */
export class ControlPlaneProcess {
  readonly logPath: string;
  readonly stderrPath: string;
  private readonly child: LoggedChild;

  private constructor(readonly options: ControlPlaneProcessOptions) {
    this.logPath = join(options.logDir, 'control-plane.log');
    this.stderrPath = join(options.logDir, 'control-plane.stderr.log');
    this.child = new LoggedChild({
      script: controlPlaneMain(),
      env: {
        // Only what Node needs, as for the ztunnels.
        PATH: process.env.PATH ?? '',
        CA_LISTEN_ADDRESS: this.address,
        CA_STATE_DIR: options.stateDir,
        CA_TOKENS_FILE: options.tokensFile,
        CONFIG_DIR: options.configDir,
        // Converting exactly as the launcher does, so that both see the same mesh.
        ...controlPlaneConvertEnv(),
        // Info, so that the log shows each certificate issued (the demo checks them against it).
        LOG_LEVEL: 'info',
      },
      logPath: this.logPath,
      stderrPath: this.stderrPath,
    });
  }

  static start(options: ControlPlaneProcessOptions): ControlPlaneProcess {
    return new ControlPlaneProcess(options);
  }

  /** `ip:port`, what the ztunnels get as CA_ADDRESS (and, as `https://`, XDS_ADDRESS). */
  get address(): string {
    return formatSocketAddress(this.options.listen.ip, this.options.listen.port);
  }

  /** The trust bundle the ztunnels get as CA_ROOT_CA and XDS_ROOT_CA. */
  get rootCertPath(): string {
    return join(this.options.stateDir, CA_ROOT_CERT_FILE);
  }

  get logs(): LogFeed {
    return this.child.logs;
  }

  get exited(): Promise<ProcessExit> {
    return this.child.exited;
  }

  /**
   * Resolves once it says it listens (root-cert.pem is written and the folder converted before
   * that); fails early if it exits, with the start of its stderr (a bad setting, a taken port).
   */
  async waitReady(timeoutMs: number): Promise<void> {
    const listening = this.logs
      .waitFor(0, (line) => line.message === LISTENING_MESSAGE, timeoutMs)
      .then((line) => (line === undefined ? ('late' as const) : ('ready' as const)));
    const outcome = await Promise.race([listening, this.exited]);
    if (outcome === 'ready') return;
    if (outcome === 'late')
      throw new Error(`the control plane was not listening within ${String(timeoutMs)} ms`);
    throw new Error(
      `the control plane exited during startup (${await this.child.describeEarlyExit(outcome)})`,
    );
  }

  /** SIGTERM (it finishes in-flight requests and exits 0), then SIGKILL after `timeoutMs`. */
  stop(timeoutMs: number): Promise<ProcessExit & { readonly killed: boolean }> {
    return this.child.stop(timeoutMs);
  }

  killNow(): void {
    this.child.killNow();
  }
}

/**
 * The control plane's binary, beside the package's entry point (packages/control-plane/dist/main.js).
 * Resolved when it starts, not at import, so that tests of this module never look for a build.
 */
function controlPlaneMain(): string {
  return fileURLToPath(new URL('main.js', import.meta.resolve('@ambient/control-plane')));
}
