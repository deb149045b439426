/**
 * Keeps outrigger's entry in the node's primary CNI config: reconciles on every change of the
 * config directory (fs.watch, debounced) and on a periodic resync (the fallback when inotify
 * events are lost or unavailable). A failed attempt is retried a bounded number of times with
 * backoff, then waits for the next change or resync. Repeated messages are logged once and then
 * at most every few minutes, so a node without a network plugin does not flood the log.
 *
 * Optimistic concurrency: a write goes through a temporary file and is renamed only if the file
 * we read is still unchanged; if the network plugin rewrote it meanwhile, we read again.
 */

import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { readIfExists, writeFileAtomic } from './atomic-file.js';
import { type ConfigEdit, type ConfigFile, containsOurPlugin, insertPlugin, isConfigFileName, pickPrimaryConfig, removePlugin } from './conflist-edit.js';

export type KeeperState = 'starting' | 'waiting-for-primary' | 'installed' | 'failing';

export interface ConflistKeeperOptions {
  readonly confDir: string;
  readonly entry: Record<string, unknown>;
  readonly resyncMs: number;
  readonly log: Logger;
  readonly debounceMs?: number;
  readonly maxRetries?: number;
  /** Called after each reconcile with the new state. */
  readonly onState?: (state: KeeperState) => void;
}

const CONFLICT_RETRIES = 10;

/** The permission bits of a file (kept when we replace it), 0644 if it is gone. */
async function modeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.mode & 0o7777, () => 0o644);
}
const QUIET_REPEAT_MS = 5 * 60_000;

export class ConflistKeeper {
  #state: KeeperState = 'starting';
  #watcher: FSWatcher | undefined;
  #resync: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #failures = 0;
  #lastMessage = { text: '', at: 0 };

  constructor(private readonly options: ConflistKeeperOptions) {}

  get state(): KeeperState {
    return this.#state;
  }

  /** Starts watching; the first reconcile runs at once. */
  start(): void {
    try {
      this.#watcher = watch(this.options.confDir, { persistent: false }, (_event, name) => {
        if (name === null || !String(name).endsWith('.outrigger-tmp')) this.schedule();
      });
      this.#watcher.on('error', (error) => {
        this.options.log.warn({ err: error }, 'watching the CNI config directory failed; relying on the periodic resync');
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (error) {
      this.options.log.warn({ err: error, dir: this.options.confDir }, 'cannot watch the CNI config directory; relying on the periodic resync');
    }
    this.#resync = setInterval(() => this.schedule(0), this.options.resyncMs);
    this.schedule(0);
  }

  /** Asks for a reconcile after the debounce delay (events come in bursts). */
  schedule(delayMs = this.options.debounceMs ?? 100): void {
    if (this.#stopped) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.reconcile();
    }, delayMs);
  }

  /** Runs one reconcile (or queues one after the current run); resolves when done. */
  async reconcile(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#reconcileOnce();
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #reconcileOnce(): Promise<void> {
    try {
      const state = await this.ensureInstalled();
      this.#failures = 0;
      this.#setState(state);
    } catch (error) {
      this.#failures += 1;
      const message = error instanceof Error ? error.message : String(error);
      // A network plugin that writes its file in place (not by rename) can be caught half-way:
      // the first failure is only retried; a config still bad on the retry is an error.
      if (this.#failures === 1) this.options.log.debug({ err: error }, `${message} (retrying)`);
      else {
        this.#setState('failing');
        this.#quietLog('error', message, { err: error });
      }
      const max = this.options.maxRetries ?? 5;
      if (this.#failures <= max) this.schedule(Math.min(200 * 2 ** (this.#failures - 1), this.options.resyncMs));
    }
  }

  #setState(state: KeeperState): void {
    if (state === 'waiting-for-primary') this.#quietLog('info', `waiting for a network plugin to write its config to ${this.options.confDir}`, {});
    if (state !== this.#state) {
      if (state === 'installed') this.options.log.info({ dir: this.options.confDir }, 'outrigger-cni is in the primary CNI config');
      this.#lastMessage = state === 'waiting-for-primary' ? this.#lastMessage : { text: '', at: 0 };
    }
    this.#state = state;
    this.options.onState?.(state);
  }

  #quietLog(level: 'info' | 'error', text: string, fields: object): void {
    const now = Date.now();
    if (this.#lastMessage.text === text && now - this.#lastMessage.at < QUIET_REPEAT_MS) return;
    this.#lastMessage = { text, at: now };
    this.options.log[level](fields, text);
  }

  /** One pass: put our entry into the current primary config. */
  async ensureInstalled(): Promise<KeeperState> {
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const primary = pickPrimaryConfig(await readdir(this.options.confDir));
      if (primary === undefined) return 'waiting-for-primary';
      const text = await readIfExists(join(this.options.confDir, primary)).catch((cause: NodeJS.ErrnoException) => {
        throw new OutriggerError(ErrorCodes.ReadFailed, `cannot read the primary CNI config ${join(this.options.confDir, primary)}: ${cause.code ?? cause.message}; nothing was written`, { cause });
      });
      if (text === undefined) continue; // removed between readdir and read
      const edit = insertPlugin({ name: primary, text }, this.options.entry);
      if (edit.kind === 'unchanged') return 'installed';
      if (await this.#apply({ name: primary, text }, edit)) {
        this.options.log.info({ file: edit.write.name, removed: edit.remove }, 'added outrigger-cni to the primary CNI config');
        return 'installed';
      }
      this.options.log.debug({ file: primary }, 'the config changed while we edited it; reading it again');
    }
    throw new Error(`the CNI config in ${this.options.confDir} kept changing while outrigger edited it (${CONFLICT_RETRIES} attempts)`);
  }

  /** Writes an edit unless `read` changed meanwhile; returns false on such a conflict. */
  async #apply(read: ConfigFile, edit: ConfigEdit & { kind: 'write' }): Promise<boolean> {
    const dir = this.options.confDir;
    const unchanged = async () => (await readIfExists(join(dir, read.name))) === read.text;
    const mode = await modeOf(join(dir, read.name));
    const written = await writeFileAtomic(dir, edit.write.name, edit.write.text, mode, async () => {
      if (!(await unchanged())) return false;
      // A wrapper's target may exist already (a stale conversion); it is replaced only if it
      // is not someone else's new config, i.e. it holds our entry or is absent.
      if (edit.write.name !== read.name) {
        const existing = await readIfExists(join(dir, edit.write.name));
        return existing === undefined || containsOurPlugin({ name: edit.write.name, text: existing });
      }
      return true;
    });
    if (!written) return false;
    if (edit.remove !== undefined && (await readIfExists(join(dir, edit.remove))) === read.text) await rm(join(dir, edit.remove), { force: true });
    return true;
  }

  /** Stops watching (pending reconciles are dropped; a running one finishes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.close();
    if (this.#resync) clearInterval(this.#resync);
    if (this.#debounce) clearTimeout(this.#debounce);
    await this.#running;
  }

  /** Removes our entry from every config file that holds one; returns the files changed. */
  async uninstall(): Promise<string[]> {
    const dir = this.options.confDir;
    const changed: string[] = [];
    for (const name of (await readdir(dir)).filter(isConfigFileName)) {
      const text = await readFile(join(dir, name), 'utf8').catch(() => undefined);
      if (text === undefined || !containsOurPlugin({ name, text })) continue;
      const edit = removePlugin({ name, text });
      if (edit.kind !== 'write') continue;
      await writeFileAtomic(dir, edit.write.name, edit.write.text, await modeOf(join(dir, name)));
      if (edit.remove !== undefined) await rm(join(dir, edit.remove), { force: true });
      changed.push(name);
    }
    return changed;
  }
}
