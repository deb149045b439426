/**
 * Notices that mounted files (a Secret's certificate, a ConfigMap's config) may have changed.
 * The kubelet updates such volumes by writing a new timestamped directory and renaming a `..data`
 * symlink over the old one, so the file's own inode never changes and a watch on the file itself
 * misses updates: this watches the file's directory instead, and also polls, because inotify is
 * not available everywhere (some overlay and network filesystems) and a watch can break when the
 * directory is replaced. It only says "look again"; the caller reads and compares contents.
 */

import { type FSWatcher, watch } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../common/log.js';

export interface WatchMountedFilesOptions {
  readonly paths: readonly string[];
  /** Called (debounced) after a change event and on every poll; it must not throw. */
  readonly onCheck: () => Promise<void>;
  readonly pollMs: number;
  /** Events arrive in bursts during a swap; wait this long after the last one. Default 100 ms. */
  readonly debounceMs?: number;
  readonly log: Logger;
}

export interface MountedFilesWatch {
  close(): void;
}

export function watchMountedFiles(options: WatchMountedFilesOptions): MountedFilesWatch {
  const { onCheck, log } = options;
  const directories = [...new Set(options.paths.map((p) => dirname(p)))];
  const watchers = new Map<string, FSWatcher>();
  let debounce: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let closed = false;

  const check = async (): Promise<void> => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await onCheck();
      } while (again && !closed);
    } finally {
      running = false;
    }
  };

  const schedule = (): void => {
    if (closed) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => void check(), options.debounceMs ?? 100);
    debounce.unref();
  };

  const ensureWatchers = (): void => {
    for (const dir of directories) {
      if (watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, schedule);
        watcher.on('error', (error) => {
          log.warn({ dir, err: error }, 'watching a mounted directory failed; relying on polling until it can be watched again');
          watcher.close();
          watchers.delete(dir);
        });
        watchers.set(dir, watcher);
      } catch (error) {
        log.warn({ dir, err: error }, 'cannot watch a mounted directory; relying on polling');
      }
    }
  };

  ensureWatchers();
  const poll = setInterval(() => {
    ensureWatchers();
    void check();
  }, options.pollMs);
  poll.unref();

  return {
    close(): void {
      closed = true;
      clearInterval(poll);
      clearTimeout(debounce);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
