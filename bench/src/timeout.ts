/** Rejects after `ms`; the timer is unref'ed so it never holds the bench open. Race it against the work. */
export function timeout(ms: number, what: string): Promise<never> {
  return new Promise((_resolve, reject) => {
    setTimeout(() => {
      reject(new Error(`${what} (after ${String(ms)} ms)`));
    }, ms).unref();
  });
}
