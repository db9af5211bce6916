import { native, type PollCallback, type Poller } from './addon.js';

export type { PollCallback, Poller };

/**
 * Readiness of a raw fd on Node's event loop (a libuv poll handle). Use it for fds Node has no
 * stream for; libuv allows one poller per fd, so close it before a net.Socket adopts the fd, and
 * before closing the fd.
 */
export function createPoller(fd: number, callback: PollCallback): Poller {
  return new native.Poller(fd, callback);
}

/**
 * Resolves true when `fd` is writable (a non-blocking connect has finished, one way or the other),
 * false after `timeoutMs`. The poller is closed either way; the fd stays the caller's.
 */
export function waitWritable(fd: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const poller = createPoller(fd, (_readable, writable) => {
      if (!writable) return;
      clearTimeout(timer);
      poller.close();
      resolve(true);
    });
    poller.start(false, true);
    const timer = setTimeout(() => {
      poller.close();
      resolve(false);
    }, timeoutMs);
  });
}
