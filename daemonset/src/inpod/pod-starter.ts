import { ErrorCode, MeshError } from '@ambient/core';
import type { WorkloadCertificate } from '@ambient/identity';
import type { WorkloadInfo } from '@ambient/redirect';
import type { CertificateSource } from '../certificates.js';
import type { ProxyInputs } from '../proxy/inputs.js';
import { PodNetwork } from './pod-network.js';
import { PodProxy } from './pod-proxy.js';
import { podIdentity } from './pod-workload.js';

/**
 * How long an Add waits for the pod's certificate. Below istio-cni's 5 s ack deadline: an Add
 * that cannot get its certificate by then is nacked, and the node agent retries it, rather than
 * the node agent dropping the whole connection.
 */
export const POD_CERTIFICATE_WAIT_MS = 3_000;

/**
 * Starts pod proxies: the pod's identity gets its certificate first (tracked while any pod runs
 * as it, so a CA source keeps it fresh), then the listeners open in the pod's namespace.
 */
export class PodStarter {
  private readonly identityUsers = new Map<string, number>();

  constructor(
    private readonly inputs: ProxyInputs,
    private readonly certificates: CertificateSource,
    private readonly mark: number,
    private readonly certificateWaitMs = POD_CERTIFICATE_WAIT_MS,
  ) {}

  /** Resolving takes ownership of `netnsFd`; on rejection it is still open (the caller's to close). */
  readonly start = async (uid: string, info: WorkloadInfo, netnsFd: number): Promise<PodProxy> => {
    const identity = podIdentity(this.inputs.config.trustDomain, info);
    this.use(identity);
    try {
      const certificate = await this.certificate(identity);
      return await PodProxy.start({
        uid,
        info,
        identity,
        certificate,
        network: new PodNetwork(uid, netnsFd, this.mark),
        inputs: this.inputs,
        onDestroyed: () => {
          this.release(identity);
        },
      });
    } catch (err) {
      this.release(identity);
      throw err;
    }
  };

  private async certificate(identity: string): Promise<WorkloadCertificate> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(
          new MeshError(
            ErrorCode.CertMissing,
            `no certificate for ${identity} within ${String(this.certificateWaitMs)} ms`,
          ),
        );
      }, this.certificateWaitMs);
    });
    try {
      return await Promise.race([this.certificates.ready(identity), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private use(identity: string): void {
    const users = this.identityUsers.get(identity) ?? 0;
    if (users === 0) this.certificates.track(identity);
    this.identityUsers.set(identity, users + 1);
  }

  private release(identity: string): void {
    const users = (this.identityUsers.get(identity) ?? 1) - 1;
    if (users > 0) {
      this.identityUsers.set(identity, users);
      return;
    }
    this.identityUsers.delete(identity);
    this.certificates.untrack(identity);
  }
}
