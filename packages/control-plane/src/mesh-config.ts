import { errorMessage, type Logger } from '@ambient/core';
import {
  encodeAuthorization,
  encodeService,
  encodeWorkload,
  type ProxyState,
  type StateSnapshot,
} from '@ambient/state';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, type DeltaXdsServer } from '@ambient/xds';
import { convertMesh, type ConvertOptions } from './convert/index.js';
import type { ConfigSource, SourceObject, SourceProblem } from './sources/source.js';

/**
 * Objects in, xDS out: every change of the source is converted as a whole, its problems logged (each
 * with file, object and field), and the result published both to the xDS server (which pushes only
 * what changed to each ztunnel) and to the state the CA authorizes node agents against.
 */
export class MeshConfigController {
  private lastProblems = new Set<string>();
  private published = 0;

  constructor(
    private readonly options: {
      readonly state: ProxyState;
      readonly xds: DeltaXdsServer;
      readonly convert: ConvertOptions;
      readonly logger: Logger;
    },
  ) {}

  /** How many times a converted state was published; for tests and /debug. */
  get generation(): number {
    return this.published;
  }

  /** Starts the source; resolves once its first complete set is converted and published. */
  async start(source: ConfigSource): Promise<void> {
    await source.start((objects, problems) => {
      try {
        this.onObjects(objects, problems);
      } catch (err) {
        // A converter bug must not take the control plane down; the last published state stays.
        this.options.logger.error({ error: errorMessage(err) }, 'mesh conversion failed; last state kept');
      }
    });
  }

  /** A static snapshot (LOCAL_XDS_PATH): published as it is. */
  publishSnapshot(snapshot: StateSnapshot): void {
    this.publish(snapshot);
  }

  private onObjects(objects: readonly SourceObject[], sourceProblems: readonly SourceProblem[]): void {
    const { snapshot, problems } = convertMesh(objects, this.options.convert);
    this.report([...sourceProblems, ...problems]);
    this.publish(snapshot);
  }

  private publish(snapshot: StateSnapshot): void {
    const { state, xds, logger } = this.options;
    const addresses = new Map<string, Uint8Array>();
    for (const workload of snapshot.workloads) addresses.set(workload.uid, encodeWorkload(workload));
    for (const service of snapshot.services) addresses.set(service.key, encodeService(service));
    const authorizations = new Map<string, Uint8Array>();
    for (const policy of snapshot.authorizations ?? []) {
      authorizations.set(policy.key, encodeAuthorization(policy));
    }
    state.replace(snapshot);
    xds.setResources(ADDRESS_TYPE_URL, addresses);
    xds.setResources(AUTHORIZATION_TYPE_URL, authorizations);
    this.published += 1;
    logger.info(
      {
        workloads: snapshot.workloads.length,
        services: snapshot.services.length,
        policies: authorizations.size,
      },
      'mesh config published',
    );
  }

  /** Each problem once while it persists, so a watched folder does not repeat itself on every edit. */
  private report(problems: readonly SourceProblem[]): void {
    const current = new Set<string>();
    for (const problem of problems) {
      const key = `${problem.origin}|${problem.object}|${problem.field}|${problem.message}`;
      current.add(key);
      if (this.lastProblems.has(key)) continue;
      this.options.logger.warn(
        { file: problem.origin, object: problem.object, field: problem.field },
        `invalid config: ${problem.message}`,
      );
    }
    this.lastProblems = current;
  }
}
