export interface StopSignal {
  /** Resolves on the first SIGINT or SIGTERM. */
  readonly requested: Promise<void>;
  wasRequested(): boolean;
}

/**
 * The first Ctrl-C or SIGTERM asks for a clean stop; a second one means "now": `onSecond` runs
 * (it kills the ztunnels) and the process exits 1.
 */
export function stopSignal(onSecond: () => void): StopSignal {
  let requested = false;
  let resolveRequested: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    resolveRequested = resolve;
  });
  const onSignal = (): void => {
    if (requested) {
      onSecond();
      process.exit(1);
    }
    requested = true;
    resolveRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { requested: promise, wasRequested: () => requested };
}
