import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CA_ROOT_CERT_FILE } from '@ambient/control-plane';
import { formatSocketAddress, type SocketAddress } from '@ambient/core';
import { DEFAULT_TRUST_DOMAIN } from '@ambient/state';
import type { LogFeed } from './log-feed.js';
import { LoggedChild, type ProcessExit } from './logged-child.js';

/** What the CA logs once its listener is bound: from then on a ztunnel's first CSR is answered. */
const LISTENING_MESSAGE = 'CA listening';

export interface CaProcessOptions {
  readonly listen: SocketAddress;
  /** CA_STATE_DIR: it creates its self-signed root here and writes root-cert.pem. */
  readonly stateDir: string;
  /** CA_TOKENS_FILE. */
  readonly tokensFile: string;
  /** LOCAL_XDS_PATH: the mesh file, which says which identities run on which node. */
  readonly configPath: string;
  /** Where `control-plane.log` (stdout, NDJSON) and `control-plane.stderr.log` go. */
  readonly logDir: string;
}

/** The control plane's CA as a child process: the one issuer of every certificate in the local mesh. */
export class CaProcess {
  readonly logPath: string;
  readonly stderrPath: string;
  private readonly child: LoggedChild;

  private constructor(readonly options: CaProcessOptions) {
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
        LOCAL_XDS_PATH: options.configPath,
        TRUST_DOMAIN: DEFAULT_TRUST_DOMAIN,
        // Info, so that the log shows each certificate issued (the demo checks them against it).
        LOG_LEVEL: 'info',
      },
      logPath: this.logPath,
      stderrPath: this.stderrPath,
    });
  }

  static start(options: CaProcessOptions): CaProcess {
    return new CaProcess(options);
  }

  /** `ip:port`, what the ztunnels get as CA_ADDRESS. */
  get address(): string {
    return formatSocketAddress(this.options.listen.ip, this.options.listen.port);
  }

  /** The trust bundle the ztunnels get as CA_ROOT_CA. */
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
   * Resolves once the CA says it listens (root-cert.pem is written before that); fails early if
   * it exits, with the start of its stderr (a bad setting, a taken port).
   */
  async waitReady(timeoutMs: number): Promise<void> {
    const listening = this.logs
      .waitFor(0, (line) => line.message === LISTENING_MESSAGE, timeoutMs)
      .then((line) => (line === undefined ? ('late' as const) : ('ready' as const)));
    const outcome = await Promise.race([listening, this.exited]);
    if (outcome === 'ready') return;
    if (outcome === 'late') throw new Error(`the CA was not listening within ${String(timeoutMs)} ms`);
    throw new Error(`the CA exited during startup (${await this.child.describeEarlyExit(outcome)})`);
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
 * Resolved when a CA starts, not at import, so that tests of this module never look for a build.
 */
function controlPlaneMain(): string {
  return fileURLToPath(new URL('main.js', import.meta.resolve('@ambient/control-plane')));
}
