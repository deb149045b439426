/**
 * Hostile and extreme AdmissionReview bodies for the injector's hardening tests (issue 9): pods
 * whose re-injection stripping was quadratic, values nested thousands of levels deep, bodies whose
 * parse costs more than their bytes suggest. Built as JSON text, since some cannot be built as
 * objects by JSON.stringify (it is recursive).
 */

import { admissionReview } from './admission-requests.js';

/**
 * A pod with `containers` containers (`c0`, `c1`, ...) whose sidecar.istio.io/status lists every
 * `every`-th one as injected: stripping must remove those and keep the others (quadratic before:
 * a name lookup in the status list per container, a deep comparison per removed container).
 * 40,000 containers are ~1.3 MB of review.
 */
export function strippingPod(containers: number, every = 2): Record<string, unknown> {
  const list = Array.from({ length: containers }, (_, i) => ({ name: `c${i}`, image: 'registry.example/app:1' }));
  const stripped = list.filter((_, i) => i % every === 0).map((c) => c.name);
  const status = { initContainers: null, containers: stripped, volumes: null, imagePullSecrets: null, revision: 'default' };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: 'shop', generateName: 'many-', annotations: { 'sidecar.istio.io/status': JSON.stringify(status) } },
    spec: { containers: list },
  };
}

/** `levels` arrays nested inside each other, as JSON text. */
export function nestedArrays(levels: number): string {
  return `${'['.repeat(levels)}${']'.repeat(levels)}`;
}

/** `levels` objects nested inside each other under key `k`, with `leaf` innermost. */
export function nestedObjects(levels: number, leaf = '1'): string {
  return `${'{"k":'.repeat(levels)}${leaf}${'}'.repeat(levels)}`;
}

/**
 * The review of `pod` as JSON text with the JSON text `raw` put where the pod has the string
 * value `"RAW"` (so values JSON.stringify cannot make can sit anywhere in a realistic review).
 */
export function reviewWithRaw(pod: unknown, raw: string, options: Parameters<typeof admissionReview>[1] = {}): string {
  const text = JSON.stringify(admissionReview(pod, options));
  const at = text.indexOf('"RAW"');
  if (at === -1) throw new Error('the pod has no "RAW" placeholder');
  return `${text.slice(0, at)}${raw}${text.slice(at + 5)}`;
}
