import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { stopChild, trackChild } from './cleanup.js';
import { timeout } from './timeout.js';

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 2_000;

export interface ForkedHelper {
  readonly pid: number;
  stop(): Promise<void>;
}

/** Forks one of the bench's own Node helpers and waits for its "ready" message. */
export async function forkHelper(script: string, args: readonly string[] = []): Promise<ForkedHelper> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), args, { stdio: 'inherit' });
  trackChild(child);
  const stop = (): Promise<void> => stopChild(child, STOP_GRACE_MS);
  try {
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`${script} exited during startup (code ${String(code)})`);
      }),
      timeout(READY_TIMEOUT_MS, `${script} did not report ready`),
    ])) as unknown[];
    if (message !== 'ready') throw new Error(`${script} sent ${JSON.stringify(message)} instead of ready`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: child.pid ?? -1, stop };
}

/** The app of every L4 flow (sink and echo on SERVER_IP), in its own process on the load core. */
export function startAppServer(): Promise<ForkedHelper> {
  return forkHelper('./server-main.js');
}
