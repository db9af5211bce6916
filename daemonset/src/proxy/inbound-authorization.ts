import type { Duplex } from 'node:stream';
import { ErrorCode, MeshError, type Logger } from '@ambient/core';
import { describeDecision, describeDryRun, evaluate, type ConnectionAttributes } from '@ambient/policy';
import type { ProxyState, Workload } from '@ambient/state';

interface OpenConnection {
  readonly destinationUid: string;
  readonly attributes: ConnectionAttributes;
  /** The side whose destruction tears the tunnel down. */
  readonly side: Duplex;
}

/**
 * L4 authorization of inbound connections (HBONE and plaintext), as ztunnel enforces it: every new
 * connection is checked against the destination workload's policies, and every open one is checked
 * again whenever the policies change, closing those the new policies deny.
 */
export class InboundAuthorizer {
  private readonly open = new Set<OpenConnection>();
  private lastVersion: number;

  constructor(
    private readonly state: ProxyState,
    private readonly logger: Logger,
  ) {
    this.lastVersion = state.version;
    state.onChange(this.recheckOpenConnections);
  }

  get openConnections(): number {
    return this.open.size;
  }

  /** undefined = allowed; otherwise the error to answer with (401 on HBONE, a close on plaintext). */
  check(destination: Workload, attributes: ConnectionAttributes): MeshError | undefined {
    const { policies, unknownKeys } = this.state.authorizationsFor(destination);
    if (unknownKeys.length > 0) {
      this.logger.warn(
        { workload: `${destination.namespace}/${destination.name}`, unknownKeys },
        'workload lists unknown authorization policies; skipped',
      );
    }
    if (policies.length === 0) return undefined;
    const decision = evaluate(policies, attributes);
    if (decision.dryRun.length > 0) {
      this.logger.info(
        {
          dryRun: decision.dryRun.map(describeDryRun),
          source: attributes.sourceIp,
          identity: attributes.sourceIdentity,
        },
        'dry-run authorization result',
      );
    }
    if (decision.allowed) return undefined;
    return new MeshError(ErrorCode.AuthorizationDenied, describeDecision(decision));
  }

  /** Re-check this connection on every policy change until it closes. */
  track(destination: Workload, attributes: ConnectionAttributes, side: Duplex): void {
    const entry: OpenConnection = { destinationUid: destination.uid, attributes, side };
    this.open.add(entry);
    side.once('close', () => {
      this.open.delete(entry);
    });
  }

  private readonly recheckOpenConnections = (): void => {
    if (this.state.version === this.lastVersion) return;
    this.lastVersion = this.state.version;
    for (const entry of this.open) {
      const workload = this.state.workloadByUid(entry.destinationUid);
      const error =
        workload === undefined
          ? undefined // a removed workload's connections end with its listener, not here
          : this.check(workload, entry.attributes);
      if (error === undefined) continue;
      this.open.delete(entry);
      this.logger.info(
        {
          source: entry.attributes.sourceIp,
          identity: entry.attributes.sourceIdentity,
          reason: error.message,
        },
        'closing connection: a policy change denies it',
      );
      entry.side.destroy(error);
    }
  };
}
