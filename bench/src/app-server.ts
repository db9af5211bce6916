import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { stopChild, trackChild } from './cleanup.js';
import { timeout } from './timeout.js';

const SERVER_READY_TIMEOUT_MS = 10_000;
const SERVER_STOP_GRACE_MS = 2_000;

export interface AppServer {
  stop(): Promise<void>;
}

/** Forks server-main.js (sink + echo on SERVER_IP) and waits until both ports are bound. */
export async function startAppServer(): Promise<AppServer> {
  const child = fork(fileURLToPath(new URL('./server-main.js', import.meta.url)), [], { stdio: 'inherit' });
  trackChild(child);
  const stop = (): Promise<void> => stopChild(child, SERVER_STOP_GRACE_MS);
  try {
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`app server exited during startup (code ${String(code)})`);
      }),
      timeout(SERVER_READY_TIMEOUT_MS, 'app server did not report ready'),
    ])) as unknown[];
    if (message !== 'ready') throw new Error(`app server sent ${JSON.stringify(message)} instead of ready`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}
