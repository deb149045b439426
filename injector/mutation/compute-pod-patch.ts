/**
 * The RFC 6902 patch from the pod as received to the injected pod. fast-json-patch's `compare`
 * does the pod as a whole (and escapes JSON pointers: `sidecar.istio.io~1status`); the four pod
 * lists the injector inserts into (initContainers, containers, volumes, imagePullSecrets) are
 * diffed by item instead, so inserting the proxy before the user's containers is one `add` at an
 * index rather than every user container rewritten field by field under a shifted index (which
 * `compare`, diffing arrays by position, would produce: valid, but as large as the pod).
 *
 * Items are aligned in one pass. The injector never edits a user's item and keeps the user's
 * items in order, so the items the two lists share (by identity: the injected pod shares them with
 * the input) anchor the alignment; only between two anchors do items differ: the ones stripped
 * from a previous injection and the ones added now. Within such a gap, old and new items are
 * matched greedily in order by deep equality (so re-injecting an already injected pod with the
 * same configuration gives no operation at all); unmatched old items are removed from the highest
 * index down, then unmatched new items added from the lowest index up, which leaves exactly the
 * new list. The work is linear in the lists' lengths times the handful of items the injector
 * adds (only added items are compared, and each comparison stops within the added item's size).
 * A list the pod did not have is one `add` of the whole list.
 *
 * Patch values are not copied: they share objects with the mutated pod (like the pod shares
 * subtrees with the input), so treat the patch as read-only. Copying them cost more than the rest
 * of the review on a typical pod (the proxy container carries the inline Envoy bootstrap).
 */

import fastJsonPatch from 'fast-json-patch';
import type { JsonPatchOperation, Pod } from '../kube/pod-types.js';

const ListKeys = ['initContainers', 'containers', 'volumes', 'imagePullSecrets'] as const;

/**
 * JSON deep equality, iterative (an explicit stack of pairs), so a value nested thousands of
 * levels deep cannot overflow the call stack; it stops at the first difference.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  const stack: unknown[] = [a, b];
  while (stack.length > 0) {
    const y = stack.pop();
    const x = stack.pop();
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (Array.isArray(x)) {
      if (!Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) stack.push(x[i], y[i]);
      continue;
    }
    if (Array.isArray(y)) return false;
    const keys = Object.keys(x);
    if (keys.length !== Object.keys(y).length) return false;
    for (const key of keys) {
      if (!Object.hasOwn(y, key)) return false;
      stack.push((x as Record<string, unknown>)[key], (y as Record<string, unknown>)[key]);
    }
  }
  return true;
}

function diffList(path: string, before: readonly unknown[], after: readonly unknown[]): JsonPatchOperation[] {
  // Where each old item sits (an item can appear twice: YAML aliases share one object).
  const positions = new Map<unknown, { readonly at: number[]; head: number }>();
  before.forEach((item, i) => {
    const entry = positions.get(item);
    if (entry) entry.at.push(i);
    else positions.set(item, { at: [i], head: 0 });
  });
  const removed: number[] = [];
  const matchedAfter = new Set<number>();
  let next = 0; // the first old item not yet aligned
  let gap: number[] = []; // new items since the last anchor
  // Aligns old items [next, end) with the new items of the gap, greedily in order.
  const settle = (end: number): void => {
    let from = 0;
    for (let i = next; i < end; i++) {
      let found = -1;
      for (let g = from; g < gap.length; g++) {
        if (deepEqual(before[i], after[gap[g] as number])) {
          found = g;
          break;
        }
      }
      if (found === -1) removed.push(i);
      else {
        matchedAfter.add(gap[found] as number);
        from = found + 1;
      }
    }
    gap = [];
  };
  for (let k = 0; k < after.length; k++) {
    const entry = positions.get(after[k]);
    // Old positions before `next` are behind us (each is passed once: linear overall).
    while (entry && entry.head < entry.at.length && (entry.at[entry.head] as number) < next) entry.head++;
    const anchor = entry?.at[entry.head++];
    if (anchor === undefined) {
      gap.push(k);
      continue;
    }
    settle(anchor);
    matchedAfter.add(k);
    next = anchor + 1;
  }
  settle(before.length);
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
