/**
 * The containers the injector adds, memoised per configuration: pods with the same resolved
 * options get the same frozen container object (see frozen-json.ts), built and serialised once.
 * Keyed by the configuration object, so a reloaded configuration (a new object) starts empty and
 * the old entries go with the old configuration. Each configuration keeps at most
 * MaxCachedContainers entries (per-pod annotations such as resources can make many keys); when
 * full it starts over, which only costs rebuilding.
 */

import type { InjectorConfig } from '../config/injector-config.js';
import type { Container } from '../kube/pod-types.js';
import { freezeJson } from './frozen-json.js';

export const MaxCachedContainers = 256;

const caches = new WeakMap<InjectorConfig, Map<string, Container>>();

/** The frozen container for `key` under `config`, built by `build` on first use. */
export function cachedContainer(config: InjectorConfig, key: string, build: () => Container): Container {
  let cache = caches.get(config);
  if (!cache) caches.set(config, (cache = new Map()));
  let container = cache.get(key);
  if (container === undefined) {
    if (cache.size >= MaxCachedContainers) cache.clear();
    container = freezeJson(build());
    cache.set(key, container);
  }
  return container;
}
