/**
 * Where the control plane's Kubernetes objects come from: a folder of YAML (the embedded default) or
 * the Kubernetes API (list + watch). Both hand the converter the complete current set, so conversion
 * is one pure function of "everything we know now".
 */

/** The parts of a Kubernetes object every kind shares; the rest is checked by the converter per kind. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly resourceVersion?: string;
    readonly creationTimestamp?: string;
    readonly [field: string]: unknown;
  };
  readonly [field: string]: unknown;
}

export interface SourceObject {
  /** Where a problem with this object should point: a file path (`examples/mesh/apps.yaml#2` = 2nd document) or `kubernetes`. */
  readonly origin: string;
  readonly object: KubeObject;
}

/** A problem with one input, reported with where it came from, which object, and which field. */
export interface SourceProblem {
  readonly origin: string;
  /** `Kind namespace/name`, or `document 3` when the object has no usable identity. */
  readonly object: string;
  /** Dotted path, e.g. `spec.rules[0].from[1].source.principals[0]`. */
  readonly field: string;
  readonly message: string;
  /**
   * Absent: the object, or the part of it `field` names, does not work as written: it is left out
   * (or, for a waypoint that does not exist, fails closed). `warning`: it is used, but not entirely as
   * written: ztunnel enforces it more strictly than written, or an unparsable value was ignored.
   */
  readonly severity?: 'warning';
}

export interface ConfigSource {
  /**
   * Starts reading; resolves once the first complete set has been delivered to `onChange`
   * (a folder read once, or every kind listed). Rejects if the source cannot start at all.
   */
  start(
    onChange: (objects: readonly SourceObject[], problems: readonly SourceProblem[]) => void,
  ): Promise<void>;
  /** Stops watching; no `onChange` after this resolves. */
  close(): Promise<void>;
}
