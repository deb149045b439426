/**
 * The RFC 6902 patch from the pod as received to the injected pod. fast-json-patch's `compare`
 * does the pod as a whole (and escapes JSON pointers: `sidecar.istio.io~1status`); the four pod
 * lists the injector inserts into (initContainers, containers, volumes, imagePullSecrets) are
 * diffed by item instead, so inserting the proxy before the user's containers is one `add` at an
 * index rather than every user container rewritten field by field under a shifted index (which
 * `compare`, diffing arrays by position, would produce: valid, but as large as the pod).
 *
 * Items are aligned greedily in order by deep equality: unmatched old items are removed from
 * the highest index down, then unmatched new items added from the lowest index up, which leaves
 * exactly the new list. The injector never edits a user's item, so matches are exact. A list the
 * pod did not have is one `add` of the whole list.
 *
 * Patch values are not copied: they share objects with the mutated pod (like the pod shares
 * subtrees with the input), so treat the patch as read-only. Copying them cost more than the rest
 * of the review on a typical pod (the proxy container carries the inline Envoy bootstrap).
 */

import fastJsonPatch from 'fast-json-patch';
import type { JsonPatchOperation, Pod } from '../kube/pod-types.js';

const ListKeys = ['initContainers', 'containers', 'volumes', 'imagePullSecrets'] as const;

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const key of ka) {
    if (!Object.hasOwn(b, key) || !deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}

function diffList(path: string, before: readonly unknown[], after: readonly unknown[]): JsonPatchOperation[] {
  const matchedAfter = new Set<number>();
  const removed: number[] = [];
  let next = 0;
  for (let i = 0; i < before.length; i++) {
    let found = -1;
    for (let k = next; k < after.length; k++) {
      if (deepEqual(before[i], after[k])) {
        found = k;
        break;
      }
    }
    if (found === -1) removed.push(i);
    else {
      matchedAfter.add(found);
      next = found + 1;
    }
  }
  const ops: JsonPatchOperation[] = [];
  for (let r = removed.length - 1; r >= 0; r--) ops.push({ op: 'remove', path: `${path}/${removed[r]}` });
  for (let k = 0; k < after.length; k++) {
    if (!matchedAfter.has(k)) ops.push({ op: 'add', path: `${path}/${k}`, value: after[k] });
  }
  return ops;
}

/** `original` must have passed readPod (an object with a spec object). */
export function computePodPatch(original: unknown, mutated: Pod): JsonPatchOperation[] {
  const before = original as Pod;
  const ops: JsonPatchOperation[] = [];
  const rest: Pod = { ...mutated, spec: { ...mutated.spec } };
  for (const key of ListKeys) {
    const a: unknown = before.spec[key];
    const b: unknown = mutated.spec[key];
    if (Array.isArray(b) && a === undefined) {
      ops.push({ op: 'add', path: `/spec/${key}`, value: b });
      delete (rest.spec as Record<string, unknown>)[key];
      continue;
    }
    if (!Array.isArray(a) || !Array.isArray(b)) continue; // removed whole, or not a list: left to compare
    ops.push(...diffList(`/spec/${key}`, a, b));
    (rest.spec as Record<string, unknown>)[key] = a;
  }
  ops.push(...(fastJsonPatch.compare(before, rest) as JsonPatchOperation[]));
  return ops;
}
