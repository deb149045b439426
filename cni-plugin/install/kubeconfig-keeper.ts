/**
 * Keeps the plugin's kubeconfig (mode 0600) in the CNI config directory current: renders it from
 * the API endpoint and the service-account token, and rewrites it only when its content would
 * change (the token rotated, or the file was removed or altered). Projected tokens are replaced
 * by a symlink swap in their directory, so the directory is watched, with a periodic check as
 * the fallback. The token itself is never logged.
 */

import { type FSWatcher, watch } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../../common/log.js';
import type { ApiEndpoint } from './api-endpoint.js';
import { readIfExists, writeFileAtomic } from './atomic-file.js';
import { renderKubeconfig } from './render-kubeconfig.js';

export interface KubeconfigKeeperOptions {
  readonly confDir: string;
  readonly name: string;
  readonly endpoint: ApiEndpoint;
  /** Watched for rotation (the token file's path); undefined when the token is fixed. */
  readonly tokenFile: string | undefined;
  readonly resyncMs: number;
  readonly log: Logger;
}

export class KubeconfigKeeper {
  #written: string | undefined;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> = Promise.resolve();

  constructor(private readonly options: KubeconfigKeeperOptions) {}

  get path(): string {
    return join(this.options.confDir, this.options.name);
  }

  /** Writes the kubeconfig if its content changed; returns whether it wrote. */
  async refresh(): Promise<boolean> {
    const { endpoint } = this.options;
    const content = renderKubeconfig({ server: endpoint.server, caPem: endpoint.caPem, token: await endpoint.token() });
    if (content === this.#written && (await readIfExists(this.path)) === content) return false;
    await writeFileAtomic(this.options.confDir, this.options.name, content, 0o600);
    const rotated = this.#written !== undefined;
    this.#written = content;
    this.options.log.info({ path: this.path }, rotated ? 'rewrote the plugin kubeconfig (token or CA changed)' : 'wrote the plugin kubeconfig');
    return true;
  }

  #check = (): void => {
    this.#busy = this.#busy.then(() => this.refresh()).then(
      () => undefined,
      (error: unknown) => this.options.log.error({ err: error }, 'cannot refresh the plugin kubeconfig; the plugin keeps the previous token'),
    );
  };

  start(): void {
    if (this.options.tokenFile) {
      try {
        this.#watcher = watch(dirname(this.options.tokenFile), { persistent: false }, () => this.#check());
        this.#watcher.on('error', () => {
          this.#watcher?.close();
          this.#watcher = undefined;
        });
      } catch {
        // the periodic check remains
      }
    }
    this.#timer = setInterval(this.#check, this.options.resyncMs);
  }

  async stop(): Promise<void> {
    this.#watcher?.close();
    if (this.#timer) clearInterval(this.#timer);
    await this.#busy;
  }

  /** Removes the kubeconfig if it is still the one we wrote. */
  async uninstall(): Promise<boolean> {
    if (this.#written === undefined || (await readIfExists(this.path)) !== this.#written) return false;
    await rm(this.path, { force: true });
    return true;
  }
}
