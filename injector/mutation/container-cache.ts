/**
 * The containers the injector adds, memoised per configuration: pods with the same resolved
 * options get the same frozen container object (see frozen-json.ts), built and serialised once.
 * Keyed by the configuration object, so a reloaded configuration (a new object) starts empty and
 * the old entries go with the old configuration. Each configuration's cache holds at most
 * ContainerCacheLimits bytes (per-pod annotations such as resources or huge capture lists can make
 * many keys, and large ones: see memo-cache.ts); an evicted container only costs rebuilding.
 */

import type { InjectorConfig } from '../config/injector-config.js';
import type { Container } from '../kube/pod-types.js';
import { freezeJson, toJsonText } from './frozen-json.js';
import { type MemoCache, type MemoCacheLimits, memoCache, stringBytes } from './memo-cache.js';

/**
 * 8 MiB per configuration: a proxy container is ~6 KB of JSON (~20 KB with its objects and kept
 * text), so hundreds of option sets fit; one entry may take 512 KiB (a proxy-init whose capture
 * lists approach the 128 KiB argument limit).
 */
export const ContainerCacheLimits: MemoCacheLimits = { maxBytes: 8 * 1024 * 1024, maxEntryBytes: 512 * 1024 };

const caches = new WeakMap<InjectorConfig, MemoCache<Container>>();

/** The objects, about twice the JSON text, plus the kept text itself. */
const containerBytes = (container: Container): number => 3 * stringBytes(toJsonText(container));

/** The frozen container for `key` under `config`, built by `build` on first use. */
export function cachedContainer(config: InjectorConfig, key: string, build: () => Container): Container {
  let cache = caches.get(config);
  if (!cache) caches.set(config, (cache = memoCache(ContainerCacheLimits, containerBytes)));
  let container = cache.get(key);
  if (container === undefined) {
    container = freezeJson(build());
    cache.set(key, container);
  }
  return container;
}

/** Bytes the container cache of `config` holds by its estimate (for tests). */
export function containerCacheBytes(config: InjectorConfig): number {
  return caches.get(config)?.calculatedSize ?? 0;
}
