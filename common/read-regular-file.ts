/**
 * Reads a configuration file (kubeconfig, token, certificate) in bounded time and memory. The
 * file is opened with O_NONBLOCK, so a FIFO without a writer (or a device) cannot stall the
 * open, then refused unless fstat says it is a regular file (symlinks are followed, as the
 * kubelet's `..data` swaps need), and read only up to `maxBytes`. Regular files are read from
 * the page cache or the disk; a hung network filesystem is the one wait this cannot bound.
 *
 * Failures are returned as a reason for the caller's message (`not a regular file (a FIFO)`,
 * `cannot read it (EACCES)`), never thrown.
 */

import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

export type ReadFileResult = { readonly ok: true; readonly data: Buffer } | { readonly ok: false; readonly reason: string; readonly cause?: unknown };

/** What a non-regular file is, for messages. */
export function fileKind(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  if (stats.isDirectory()) return 'a directory';
  return 'not a file';
}

function sizeText(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}

export async function readRegularFile(path: string, maxBytes: number): Promise<ReadFileResult> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (cause) {
    return { ok: false, reason: `cannot read it (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause };
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return { ok: false, reason: `not a regular file (${fileKind(stats)})` };
    if (stats.size > maxBytes) return { ok: false, reason: `larger than ${sizeText(maxBytes)}` };
    // The size can change while we read: read at most maxBytes + 1 bytes to notice growth past it.
    let buffer = Buffer.alloc(Math.min(maxBytes + 1, Math.max(stats.size + 1, 4096)));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) return { ok: false, reason: `larger than ${sizeText(maxBytes)}` };
        const bigger = Buffer.alloc(Math.min(maxBytes + 1, length * 2));
        buffer.copy(bigger);
        buffer = bigger;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) return { ok: true, data: buffer.subarray(0, length) };
      length += bytesRead;
    }
  } catch (cause) {
    return { ok: false, reason: `cannot read it (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
