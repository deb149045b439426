/**
 * Keeps the plugin executable in the host's CNI bin directory: copies it atomically (mode 0755)
 * when the file there is missing or differs (sha256), re-checks on every resync (a cheap stat;
 * the hash only when size or mtime moved), and on uninstall removes it only if it is still the
 * copy we made.
 */

import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/log.js';
import { copyFileAtomic, hashFile } from './atomic-file.js';

export class BinaryKeeper {
  #sourceHash: string | undefined;
  #seen: { size: number; mtimeMs: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> = Promise.resolve();

  constructor(private readonly options: { source: string; binDir: string; name: string; resyncMs: number; log: Logger }) {}

  get path(): string {
    return join(this.options.binDir, this.options.name);
  }

  /** Copies the binary if needed; returns whether it copied. */
  async ensure(): Promise<boolean> {
    this.#sourceHash ??= await hashFile(this.options.source);
    if (this.#sourceHash === undefined) throw new Error(`the plugin binary ${this.options.source} does not exist`);
    const current = await stat(this.path).catch(() => undefined);
    if (current && this.#seen && current.size === this.#seen.size && current.mtimeMs === this.#seen.mtimeMs) return false;
    const copy = !current || (await hashFile(this.path)) !== this.#sourceHash;
    if (copy) await copyFileAtomic(this.options.source, this.options.binDir, this.options.name, 0o755);
    const after = await stat(this.path);
    this.#seen = { size: after.size, mtimeMs: after.mtimeMs };
    return copy;
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#busy = this.#busy.then(() => this.ensure()).then(
        (copied) => {
          if (copied) this.options.log.warn({ path: this.path }, 'the plugin binary was missing or changed; copied it again');
        },
        (error: unknown) => this.options.log.error({ err: error }, 'cannot restore the plugin binary'),
      );
    }, this.options.resyncMs);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#busy;
  }

  /** Removes the binary if it is still our copy. */
  async uninstall(): Promise<boolean> {
    if (this.#sourceHash === undefined || (await hashFile(this.path)) !== this.#sourceHash) return false;
    await rm(this.path, { force: true });
    return true;
  }
}
