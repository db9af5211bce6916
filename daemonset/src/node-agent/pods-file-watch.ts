import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { errorMessage, type Logger } from '@ambient/core';
import type { MeshPod } from './pod.js';
import { parsePodsFile } from './pods-file.js';

/** Editors write a file in several steps (truncate, write, rename): one read after they settle. */
export const PODS_FILE_SETTLE_MS = 100;

export interface PodsFileWatch {
  close(): void;
}

/**
 * Calls `onPods` with the file's pods each time it changes. The folder is watched, not the file,
 * so an editor that replaces the file (write then rename) is followed too. A file that cannot be
 * read or parsed is logged and skipped: the last good list stays in force.
 */
export function watchPodsFile(
  path: string,
  onPods: (pods: MeshPod[]) => void,
  logger: Logger,
): PodsFileWatch {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const reread = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      logger.warn({ path, err: errorMessage(err) }, 'pods file unreadable: keeping the pods as they are');
      return;
    }
    let pods: MeshPod[];
    try {
      pods = parsePodsFile(text, path);
    } catch (err) {
      logger.error({ path, err: errorMessage(err) }, 'invalid pods file: keeping the pods as they are');
      return;
    }
    onPods(pods);
  };
  const watcher: FSWatcher = watch(dirname(path), (_event, changed) => {
    if (changed !== null && changed !== name) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      void reread();
    }, PODS_FILE_SETTLE_MS);
  });
  watcher.on('error', (err) => {
    logger.error({ path, err: errorMessage(err) }, 'watching the pods file failed');
  });
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
