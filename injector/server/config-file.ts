/**
 * The injector configuration in force: read from `--config-file` (a mounted ConfigMap) at start,
 * then re-read when the mount changes. A new text that does not parse is refused with one log
 * line per distinct text (naming every bad field) and the previous configuration stays in force;
 * pods are never admitted against a half-read configuration. Without a file, the defaults.
 */

import { readFile } from 'node:fs/promises';
import { ErrorCodes, OutriggerError, isOutriggerError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { DefaultInjectorConfig, type InjectorConfig, parseInjectorConfig } from '../config/injector-config.js';
import type { InjectorMetrics } from '../metrics/injector-metrics.js';
import { type MountedFilesWatch, watchMountedFiles } from '../watch/watch-mounted-files.js';

export interface ConfigSource {
  /** The configuration for the next admission (read on every request: swaps are atomic). */
  current(): InjectorConfig;
  close(): void;
}

async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new OutriggerError(ErrorCodes.ReadFailed, `cannot read ${path} (${(error as { code?: string }).code ?? 'unknown'})`, { cause: error });
  }
}

/** Loads the file (throws InvalidInput or ReadFailed: the server must not start without it) and watches it. */
export async function openConfigFile(options: {
  readonly path: string | undefined;
  readonly pollMs: number;
  readonly log: Logger;
  readonly metrics: InjectorMetrics;
}): Promise<ConfigSource> {
  const { path, log, metrics } = options;
  if (path === undefined) {
    log.info('no --config-file: using the default injector configuration');
    return { current: () => DefaultInjectorConfig, close: () => undefined };
  }
  let text = await readConfigText(path);
  let config = parseInjectorConfig(text, path);
  log.info({ path }, 'injector configuration loaded');
  let refusedText: string | undefined;
  const watch: MountedFilesWatch = watchMountedFiles({
    paths: [path],
    pollMs: options.pollMs,
    log,
    onCheck: async () => {
      let next: string;
      try {
        next = await readConfigText(path);
      } catch (error) {
        log.warn({ path, problem: (error as Error).message }, 'cannot re-read the configuration; the previous one stays in force');
        return;
      }
      if (next === text || next === refusedText) return;
      try {
        config = parseInjectorConfig(next, path);
        text = next;
        refusedText = undefined;
        metrics.reloads.inc({ what: 'config', result: 'applied' });
        log.info({ path }, 'injector configuration reloaded');
      } catch (error) {
        refusedText = next;
        metrics.reloads.inc({ what: 'config', result: 'refused' });
        const problem = isOutriggerError(error) ? error.message : String(error);
        log.error({ path, problem }, 'new injector configuration refused; the previous one stays in force');
      }
    },
  });
  return { current: () => config, close: () => watch.close() };
}
