import type { BenchPki } from './bench-pki.js';
import type { Settings } from './options.js';
import type { CorePlan } from './pinning.js';
import type { Row } from './report.js';

/*
 * The suite is a list of groups; each starts what it needs, runs its flows over its paths (taking
 * turns, `settings.runs` times) and returns rows. A new group (control plane, policy, L7) is one
 * more entry in main.ts's list.
 */

export interface BenchContext {
  readonly settings: Settings;
  readonly cores: CorePlan;
  /** One PKI for every path of the run: the same keys and chains for ztunnel and the peers. */
  readonly pki: BenchPki;
  /** A temp dir for config files, removed after the run. */
  readonly workDir: string;
  /** Logs of every process the group starts. */
  readonly logDir: string;
  /** Set with --cpu-prof: our processes write their profiles here. */
  readonly cpuProfileDir: string | undefined;
  /** Progress for the terminal, one line at a time. */
  readonly progress: (line: string) => void;
  /** Records a CPU profile one of our processes wrote, for the summary at the end. */
  readonly addProfile: (label: string, path: string) => void;
}

export interface BenchGroup {
  readonly name: string;
  readonly title: string;
  /** Debian packages the group runs (installed before the first group starts). */
  readonly debianPackages: readonly string[];
  run(context: BenchContext): Promise<Row[]>;
}
