/**
 * Long lists of distinct CIDRs (in 198.18.0.0/15, the benchmarking range) for the argument-length
 * tests of issue 9, item 10: the longest comma list that fits in `maxBytes`, and the same plus one.
 */

/** `198.18.x.y/32` for the n-th address (n < 131,072). */
export function cidr(n: number): string {
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}/32`;
}

/** The longest list `cidr(0),cidr(1),...` whose text is at most `maxBytes` bytes, and its count. */
export function longestCidrList(maxBytes: number): { readonly text: string; readonly count: number } {
  const parts: string[] = [];
  let length = -1;
  for (let n = 0; length + 1 + cidr(n).length <= maxBytes; n++) {
    parts.push(cidr(n));
    length += 1 + cidr(n).length;
  }
  return { text: parts.join(','), count: parts.length };
}
