/**
 * Atomic file replacement on the host's disk: write a temporary file in the same directory,
 * fsync it, set its mode, rename it over the target, then fsync the directory. A reader (the
 * container runtime loading a config, exec of the plugin) sees the old file or the new one,
 * never a partial one. Temporary names start with a dot and end in `.outrigger-tmp`, so no
 * runtime reads them as network configs.
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

function tempPath(dir: string, name: string): string {
  return join(dir, `.${name}.${randomBytes(4).toString('hex')}.outrigger-tmp`);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => {}); // some filesystems refuse fsync on a directory
  await handle.close();
}

/**
 * Replaces `dir/name` with `data`. `beforeRename`, if given, runs after the temporary file is
 * complete and may veto the rename (returns false), e.g. when the target changed meanwhile.
 */
export async function writeFileAtomic(dir: string, name: string, data: string, mode: number, beforeRename?: () => Promise<boolean>): Promise<boolean> {
  const temp = tempPath(dir, name);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(data, 'utf8');
      await handle.chmod(mode); // the umask may have narrowed the mode at creation
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (beforeRename && !(await beforeRename())) {
      await rm(temp, { force: true });
      return false;
    }
    await rename(temp, join(dir, name));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDir(dir);
  return true;
}

/** Copies `source` to `dir/name` the same way (mode set on the copy before it becomes visible). */
export async function copyFileAtomic(source: string, dir: string, name: string, mode: number): Promise<void> {
  const temp = tempPath(dir, name);
  try {
    await copyFile(source, temp);
    const handle = await open(temp, 'r+');
    try {
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(dir, name));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDir(dir);
}

/** sha256 of a file, or undefined when it does not exist. */
export async function hashFile(path: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? resolve(undefined) : reject(error)));
  });
}

/** A file's text, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
