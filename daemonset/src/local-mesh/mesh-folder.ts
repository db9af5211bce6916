import { isAbsolute, relative } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  convertMesh,
  FolderSource,
  type ConvertOptions,
  type SourceObject,
  type SourceProblem,
} from '@ambient/control-plane';
import { createLogger } from '@ambient/core';
import { DEFAULT_TRUST_DOMAIN, type StateSnapshot } from '@ambient/state';

/** The committed example, from daemonset/{src,dist}/local-mesh/ up to the repository root. */
export const EXAMPLE_MESH_DIR = fileURLToPath(new URL('../../../examples/mesh', import.meta.url));

/**
 * What the launcher and its control plane child both convert with, so that they see the same mesh:
 * the control plane gets these as its environment (`controlPlaneConvertEnv`).
 */
const CONVERT_OPTIONS = Object.freeze({
  clusterId: 'Kubernetes',
  trustDomain: DEFAULT_TRUST_DOMAIN,
  rootNamespace: 'istio-system',
  domainSuffix: 'cluster.local',
} satisfies ConvertOptions);

/** The control plane's variables for `CONVERT_OPTIONS`. */
export function controlPlaneConvertEnv(): Record<string, string> {
  return {
    CLUSTER_ID: CONVERT_OPTIONS.clusterId,
    TRUST_DOMAIN: CONVERT_OPTIONS.trustDomain,
    ISTIO_ROOT_NAMESPACE: CONVERT_OPTIONS.rootNamespace,
    DOMAIN_SUFFIX: CONVERT_OPTIONS.domainSuffix,
  };
}

/** The mesh a folder describes now, as the control plane converts it. */
export interface MeshConfig {
  readonly snapshot: StateSnapshot;
  /** The folder's and the conversion's problems, as the control plane logs them. */
  readonly problems: readonly SourceProblem[];
}

/**
 * The folder of Kubernetes YAML the control plane serves, read by the launcher too, with the control
 * plane's own reader and converter: the same objects give the same workloads and policies, and a
 * file with a YAML error keeps its last good objects here as it does there. Watched, so that each
 * round of `npm start` can be planned from what the folder says now.
 */
export class MeshFolder {
  private objects: readonly SourceObject[] = [];
  private sourceProblems: readonly SourceProblem[] = [];
  private converted: MeshConfig | undefined;

  private constructor(private readonly source: FolderSource) {}

  /** Reads the folder once and keeps watching it; rejects when it is not a readable folder. */
  static async open(dir: string, onTrouble: (message: string) => void): Promise<MeshFolder> {
    const source = new FolderSource(dir, { logger: troubleLogger(onTrouble) });
    const folder = new MeshFolder(source);
    await source.start((objects, problems) => {
      folder.objects = objects;
      folder.sourceProblems = problems;
      folder.converted = undefined;
    });
    return folder;
  }

  get dir(): string {
    return this.source.dir;
  }

  /** The latest objects, converted (once per change of the folder). */
  current(): MeshConfig {
    if (this.converted === undefined) {
      const { snapshot, problems } = convertMesh(this.objects, CONVERT_OPTIONS);
      this.converted = { snapshot, problems: [...this.sourceProblems, ...problems] };
    }
    return this.converted;
  }

  close(): Promise<void> {
    return this.source.close();
  }
}

/** The folder once, as it is now (for tests and one-shot tools). */
export async function readMeshFolder(dir: string): Promise<MeshConfig> {
  const troubles: string[] = [];
  const folder = await MeshFolder.open(dir, (message) => troubles.push(message));
  try {
    if (troubles.length > 0) throw new Error(troubles.join('; '));
    return folder.current();
  } finally {
    await folder.close();
  }
}

/** One line per problem, in the control plane's words: `invalid config: <message>` with its file, object and field. */
export function describeProblem(problem: SourceProblem): string {
  const file = displayPath(problem.origin);
  const where = [`file ${file}`, `object ${problem.object}`];
  if (problem.field !== '') where.push(`field ${problem.field}`);
  const kind = problem.severity === 'warning' ? 'invalid config (warning, used anyway)' : 'invalid config';
  return `${kind}: ${problem.message} (${where.join(', ')})`;
}

/** A path as a user would type it here: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const inside = relative(process.cwd(), path);
  if (inside === '') return '.';
  return inside.startsWith('..') || isAbsolute(inside) ? path : inside;
}

/**
 * The reader's own troubles (a folder that cannot be watched or read) as one line each, for the
 * launcher to print: its output is for people, not NDJSON.
 */
function troubleLogger(onTrouble: (message: string) => void): ReturnType<typeof createLogger> {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text === '') continue;
        try {
          const line = JSON.parse(text) as Record<string, unknown>;
          const detail = typeof line.error === 'string' ? `: ${line.error}` : '';
          onTrouble(`${String(line.message)}${detail}`);
        } catch {
          onTrouble(text);
        }
      }
      done();
    },
  });
  return createLogger({ level: 'warn', destination });
}
