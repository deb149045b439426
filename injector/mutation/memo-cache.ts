/**
 * The injector's memo caches (resolved pod options, built containers), bounded by the bytes they
 * hold rather than by a number of entries: a pod's annotations can be megabytes (the API server
 * refuses more than 256 KiB of them only after the webhooks ran), and 256 such entries once grew the
 * injector past its memory limit. Least-recently-used entries go first (lru-cache); an entry larger
 * than `maxEntryBytes` is never stored (it would evict many useful ones and is rarely seen twice),
 * it is only built again each time. The byte counts are estimates: strings at two bytes a character
 * (V8's widest form) plus what each cache says its values hold.
 */

import { LRUCache } from 'lru-cache';

export interface MemoCacheLimits {
  /** What all entries together may hold. */
  readonly maxBytes: number;
  /** What one entry may hold; larger ones are not stored. */
  readonly maxEntryBytes: number;
}

/** Bytes of a string in memory, at most (two-byte representation). */
export const stringBytes = (text: string): number => 2 * text.length;

export type MemoCache<V extends object> = LRUCache<string, V>;

/** A cache of `V` by string key; `valueBytes` estimates what a value holds beyond its key. */
export function memoCache<V extends object>(limits: MemoCacheLimits, valueBytes: (value: V) => number): MemoCache<V> {
  return new LRUCache<string, V>({
    maxSize: limits.maxBytes,
    maxEntrySize: limits.maxEntryBytes,
    sizeCalculation: (value, key) => Math.max(1, stringBytes(key) + valueBytes(value)),
  });
}
