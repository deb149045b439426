// The injector's per-configuration memoisation (container-cache.ts, resolve-pod-options.ts) and
// the patch text built from it (frozen-json.ts): pods with the same options share one frozen
// container that no pod can change, a reloaded configuration is used at once (never a container
// of the old one), different options never share, and the response's patch text is exactly
// JSON.stringify's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseInjectorConfig } from '../../injector/config/injector-config.js';
import { patchResponse } from '../../injector/admission/build-admission-response.js';
import type { Container, Pod } from '../../injector/kube/pod-types.js';
import { freezeJson, toJsonText } from '../../injector/mutation/frozen-json.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { deploymentPod } from '../helpers/admission-requests.js';

function injected(pod: unknown, config = parseInjectorConfig('{}', 'test config')): Pod {
  const review = reviewPod({ pod, namespace: 'shop', config });
  if (review.kind !== 'inject') throw new Error(`expected an injection, got ${review.kind}`);
  return review.pod;
}

const proxyOf = (pod: Pod): Container => [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === 'proxy') as Container;
const initOf = (pod: Pod): Container => (pod.spec.initContainers ?? []).find((c) => c.name === 'proxy-init') as Container;

describe('memoised injection parts', () => {
  it('shares one frozen proxy and proxy-init between pods with the same options; no pod can change them', () => {
    const config = parseInjectorConfig('{}', 'test config');
    const a = injected(deploymentPod({ name: 'a' }), config);
    const b = injected(deploymentPod({ name: 'b' }), config);
    expect(proxyOf(a)).toBe(proxyOf(b));
    expect(initOf(a)).toBe(initOf(b));
    const proxy = proxyOf(a);
    expect(Object.isFrozen(proxy) && Object.isFrozen(proxy.args) && Object.isFrozen(proxy.securityContext?.capabilities)).toBe(true);
    expect(() => {
      (proxy as { image: string }).image = 'evil';
    }).toThrow(TypeError);
    expect(() => (proxy.args as string[]).push('--evil')).toThrow(TypeError);
    expect(() => {
      ((initOf(b).securityContext?.capabilities?.add ?? []) as string[])[0] = 'SYS_ADMIN';
    }).toThrow(TypeError);
    // A third pod still gets the untouched containers.
    const c = injected(deploymentPod({ name: 'c' }), config);
    expect(proxyOf(c).image).toBe('docker.io/envoyproxy/envoy:v1.36.2');
    expect(initOf(c).securityContext?.capabilities?.add).toEqual(['NET_ADMIN', 'NET_RAW']);
  });

  it('uses a reloaded configuration at once, never a container built for the old one', () => {
    const before = parseInjectorConfig('{}', 'test config');
    const after = parseInjectorConfig('proxy:\n  image: registry.example/envoy:2\n  logLevel: debug\ninit:\n  image: registry.example/outrigger:2\n', 'reloaded config');
    const a = injected(deploymentPod(), before);
    const b = injected(deploymentPod(), after);
    expect(proxyOf(a).image).toBe('docker.io/envoyproxy/envoy:v1.36.2');
    expect(proxyOf(b).image).toBe('registry.example/envoy:2');
    expect(proxyOf(b).args).toContain('debug');
    expect(initOf(b).image).toBe('registry.example/outrigger:2');
    // And the old configuration still gets its own.
    expect(proxyOf(injected(deploymentPod(), before)).image).toBe('docker.io/envoyproxy/envoy:v1.36.2');
  });

  it('keeps pods with different annotations apart (capture args, resources, log level, TPROXY)', () => {
    const config = parseInjectorConfig('{}', 'test config');
    const plain = injected(deploymentPod(), config);
    const ranged = injected(deploymentPod({ annotations: { 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '198.18.0.0/15' } }), config);
    expect(initOf(ranged)).not.toBe(initOf(plain));
    expect(initOf(ranged).args).toContain('198.18.0.0/15');
    expect(initOf(plain).args).not.toContain('198.18.0.0/15');
    const sized = injected(deploymentPod({ annotations: { 'sidecar.istio.io/proxyCPU': '250m', 'sidecar.istio.io/logLevel': 'debug' } }), config);
    expect(proxyOf(sized).resources?.requests?.cpu).toBe('250m');
    expect(proxyOf(sized).args).toContain('debug');
    expect(proxyOf(plain).resources?.requests?.cpu).toBe('100m');
    const tproxy = injected(deploymentPod({ annotations: { 'sidecar.istio.io/interceptionMode': 'TPROXY' } }), config);
    expect(proxyOf(tproxy).securityContext?.runAsUser).toBe(0);
    expect(proxyOf(plain).securityContext?.runAsUser).toBe(1337);
    // Bad annotations are still refused every time (failures are not memoised).
    const bad = deploymentPod({ annotations: { 'sidecar.istio.io/proxyCPU': 'lots' } });
    for (let i = 0; i < 2; i++) expect(reviewPod({ pod: bad, namespace: 'shop', config }).kind).toBe('deny');
  });

  it('encodes the same patch text as JSON.stringify', () => {
    const config = parseInjectorConfig('{}', 'test config');
    const review = reviewPod({ pod: deploymentPod(), namespace: 'shop', config });
    if (review.kind !== 'inject') throw new Error('expected an injection');
    const encoded = patchResponse('admission.k8s.io/v1', 'uid-1', review.patch).response.patch ?? '';
    expect(Buffer.from(encoded, 'base64').toString('utf8')).toBe(JSON.stringify(review.patch));
  });

  it('toJsonText equals JSON.stringify for any JSON value, with or without frozen parts', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.array(fc.jsonValue(), { maxLength: 4 }), (value, shared) => {
        const frozen = shared.map((item) => (typeof item === 'object' && item !== null ? freezeJson(structuredClone(item)) : item));
        const ops = [{ op: 'add', path: '/a', value }, { op: 'add', path: '/b', value: frozen }, { op: 'remove', path: '/c' }];
        expect(toJsonText(ops)).toBe(JSON.stringify(ops));
        expect(toJsonText(value)).toBe(JSON.stringify(value) ?? 'null');
      }),
      { numRuns: 300 },
    );
  });
});

describe('encodeAdmissionReview', () => {
  it('is JSON.stringify of the review, patch or not', async () => {
    const { encodeAdmissionReview } = await import('../../injector/admission/encode-admission-review.js');
    const { allowResponse, denyResponse } = await import('../../injector/admission/build-admission-response.js');
    const config = parseInjectorConfig('{}', 'test config');
    const review = reviewPod({ pod: deploymentPod(), namespace: 'shop', config });
    if (review.kind !== 'inject') throw new Error('expected an injection');
    for (const uid of ['uid-1', 'a "patch":"" b', '\\"patch\\":""']) {
      for (const response of [
        patchResponse('admission.k8s.io/v1beta1', uid, review.patch),
        allowResponse('admission.k8s.io/v1', uid),
        denyResponse('admission.k8s.io/v1', uid, { message: 'no "patch":"" here', reason: 'BadRequest', code: 400 }),
      ]) {
        expect(encodeAdmissionReview(response)).toBe(JSON.stringify(response));
      }
    }
  });
});
