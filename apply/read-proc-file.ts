/**
 * Reads a small kernel file of our own network namespace (/proc/net/...) synchronously: '' when
 * it is missing (a module not loaded, IPv6 disabled). These reads sit on every pod start's path
 * before the first spawn; the synchronous form takes microseconds, while the async one waits for
 * thread-pool round trips. Not for files that may be large or on slow storage.
 */

import { readFileSync } from 'node:fs';

export function readProcFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
