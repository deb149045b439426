// The memo caches are bounded by bytes, not entries (issue 9, item 11): many distinct annotation
// sets, small or megabyte-sized, never make a configuration's caches hold more than their budgets;
// entries too large are not stored at all; typical pods still hit.
import { describe, expect, it } from 'vitest';
import { DefaultInjectorConfig, type InjectorConfig } from '../../injector/config/injector-config.js';
import { ContainerCacheLimits, containerCacheBytes } from '../../injector/mutation/container-cache.js';
import { OptionsCacheLimits, optionsCacheBytes, resolvePodOptions } from '../../injector/mutation/resolve-pod-options.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { deploymentPod } from '../helpers/admission-requests.js';

/** A configuration object of its own, so its caches start empty. */
const freshConfig = (): InjectorConfig => ({ ...DefaultInjectorConfig });

describe('memo caches bounded by bytes', () => {
  it('options: megabyte annotations are never stored; thousands of distinct small sets stay within 2 MiB', () => {
    const config = freshConfig();
    for (let i = 0; i < 20; i++) {
      const resolved = resolvePodOptions({ 'example.com/blob': `${i}`.padEnd(900_000, 'x') }, config);
      expect(resolved.ok).toBe(true);
    }
    expect(optionsCacheBytes(config)).toBe(0);
    for (let i = 0; i < 3000; i++) resolvePodOptions({ 'example.com/id': `pod-${i}`.padEnd(2000, 'y') }, config);
    expect(optionsCacheBytes(config)).toBeGreaterThan(OptionsCacheLimits.maxBytes / 2);
    expect(optionsCacheBytes(config)).toBeLessThanOrEqual(OptionsCacheLimits.maxBytes);
    // A typical pod's options are found again (same object), whatever came before.
    const annotations = { 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432' };
    expect(resolvePodOptions(annotations, config)).toBe(resolvePodOptions({ ...annotations }, config));
  });

  it('containers: thousands of distinct per-pod resources and capture lists stay within 8 MiB', () => {
    const config = freshConfig();
    for (let i = 0; i < 2000; i++) {
      const annotations = {
        'sidecar.istio.io/proxyCPU': `${100 + i}m`,
        'traffic.sidecar.istio.io/excludeOutboundIPRanges': Array.from({ length: 200 }, (_, k) => `10.${i % 250}.${k}.0/24`).join(','),
      };
      expect(reviewPod({ pod: deploymentPod({ annotations }), namespace: 'shop', config }).kind).toBe('inject');
    }
    expect(containerCacheBytes(config)).toBeGreaterThan(ContainerCacheLimits.maxBytes / 2);
    expect(containerCacheBytes(config)).toBeLessThanOrEqual(ContainerCacheLimits.maxBytes);
  });
});
