// Fixture pairs for the injector: each test/fixtures/injector/cases/NAME.input.yaml (namespace,
// optional injector config, pod) is reviewed and compared with NAME.golden.json (decision, patch,
// mutated pod). Every patch is applied with the independent rfc6902 implementation and must give
// exactly the mutated pod, which must pass the Kubernetes Pod schema and re-inject to itself.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DefaultInjectorConfig, parseInjectorConfig } from '../../injector/config/injector-config.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { applyIndependently, expectGolden, validateKubernetesPod } from '../helpers/injector-checks.js';

const dir = fileURLToPath(new URL('../fixtures/injector/cases/', import.meta.url));
const cases = readdirSync(dir).filter((f) => f.endsWith('.input.yaml')).map((f) => f.replace(/\.input\.yaml$/, '')).sort();

interface CaseInput {
  namespace: string;
  config?: unknown;
  pod: unknown;
}

function load(name: string): { input: CaseInput; config: typeof DefaultInjectorConfig } {
  const input = parseYaml(readFileSync(`${dir}${name}.input.yaml`, 'utf8')) as CaseInput;
  const config = input.config === undefined ? DefaultInjectorConfig : parseInjectorConfig(toYaml(input.config), `${name} config`);
  return { input, config };
}

/** The kinds each case must end in: the file name says what it proves. */
function expectedKind(name: string): 'skip' | 'deny' | 'inject' {
  if (name.startsWith('skip-')) return 'skip';
  if (name.startsWith('deny-')) return 'deny';
  return 'inject';
}

describe('injector fixtures', () => {
  it('has a case for every decision', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
    expect(new Set(cases.map(expectedKind))).toEqual(new Set(['skip', 'deny', 'inject']));
  });

  for (const name of cases) {
    it(name, () => {
      const { input, config } = load(name);
      const original = structuredClone(input.pod);
      const review = reviewPod({ pod: input.pod, namespace: input.namespace, config });
      expect(input.pod, 'reviewPod must not change its input').toEqual(original);
      expect(review.kind).toBe(expectedKind(name));

      // Warnings are part of the golden when there are any.
      const warnings = review.kind !== 'deny' && review.warnings.length > 0 ? { warnings: review.warnings } : {};
      if (review.kind === 'skip') {
        expectGolden(`${dir}${name}.golden.json`, { kind: 'skip', reason: review.reason, ...warnings });
        return;
      }
      if (review.kind === 'deny') {
        expectGolden(`${dir}${name}.golden.json`, { kind: 'deny', code: review.error.code, message: review.error.message.split('\n') });
        return;
      }
      expectGolden(`${dir}${name}.golden.json`, { kind: 'inject', patch: review.patch, pod: review.pod, ...warnings });
      const patched = applyIndependently(input.pod, review.patch);
      expect(patched).toEqual(review.pod);
      validateKubernetesPod(patched);

      const again = reviewPod({ pod: patched, namespace: input.namespace, config });
      expect(again.kind).toBe('inject');
      if (again.kind === 'inject') {
        expect(again.patch).toEqual([]);
        expect(again.pod).toEqual(review.pod);
      }
    });
  }
});
