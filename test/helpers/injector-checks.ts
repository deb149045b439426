/**
 * Independent checks for injector output: apply a patch with `rfc6902` (not fast-json-patch,
 * which made it), validate a pod against the Kubernetes schema (kubernetes-models), and golden
 * files under test/fixtures/injector/ (refresh with OUTRIGGER_UPDATE_GOLDEN=1, then review the diff).
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { applyPatch } from 'rfc6902';
import { Pod as PodModel } from 'kubernetes-models/v1/Pod';
import { expect } from 'vitest';
import type { JsonPatchOperation } from '../../injector/kube/pod-types.js';

/** Applies an RFC 6902 patch to a deep copy with the independent implementation; fails on any error. */
export function applyIndependently(original: unknown, patch: readonly JsonPatchOperation[]): unknown {
  const copy = structuredClone(original);
  const results = applyPatch(copy, patch as Parameters<typeof applyPatch>[1]);
  const errors = results.filter((r) => r !== null);
  if (errors.length > 0) throw new Error(`rfc6902 could not apply the patch: ${errors.map((e) => String(e)).join('; ')}`);
  return copy;
}

/** Validates against the Kubernetes core/v1 Pod schema; throws with the schema's message. */
export function validateKubernetesPod(pod: unknown): void {
  const model = new PodModel(pod as ConstructorParameters<typeof PodModel>[0]);
  model.validate();
}

export const updateGolden = process.env.OUTRIGGER_UPDATE_GOLDEN === '1';

/** Compares `actual` (as pretty JSON) with a golden file, or rewrites it when refreshing. */
export function expectGolden(path: string, actual: unknown): void {
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (updateGolden || !existsSync(path)) {
    if (!updateGolden) throw new Error(`golden file ${path} is missing: run with OUTRIGGER_UPDATE_GOLDEN=1 and review it`);
    writeFileSync(path, text);
    return;
  }
  expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(path, 'utf8')));
}
