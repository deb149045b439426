/**
 * A JSON text's shape, measured by one pass over its characters (strings skipped, escapes honoured)
 * before it is parsed, so a body that would cost too much to parse is refused unparsed:
 * - nesting deeper than MaxJsonDepth: JSON.parse is iterative, but it keeps a native frame per open
 *   level outside the JS heap, where no heap limit applies (6 MiB of `[` took ~400 MB). The limit
 *   is Go's encoding/json's, which the API server decodes with: nothing it admits nests deeper (a
 *   Pod's schema nests a few dozen levels), and all the injector does with a parsed value is
 *   iterative or bounded, so any depth up to it is answered normally;
 * - more than MaxJsonContainers arrays and objects, or more than MaxJsonValues values: what parsing
 *   allocates grows with their number, not with the bytes (6 MiB of `[],` is 2 million arrays,
 *   ~100 MB of heap and most of a second of JSON.parse). Real pods stay far below: 2,000 env vars
 *   are ~2,000 objects; a pod at etcd's 1.5 MiB limit, with its managedFields, ~100,000.
 * Values are counted from above (commas and openings + 1), which never undercounts.
 *
 * Texts shorter than ScanFromLength are not scanned (a typical pod is 3 KB, the scan would cost a
 * third of its JSON.parse): they cannot hold the counts, and at most ~130,000 levels cost JSON.parse
 * ~30 ms and ~17 MB of native memory, once. So the depth limit applies from that length on; below it
 * any depth is parsed and answered (everything after the parse is iterative).
 */

export const MaxJsonDepth = 10_000;
export const MaxJsonContainers = 250_000;
export const MaxJsonValues = 1_000_000;
/** 128 KiB: also where the server hands bodies to its review worker. */
export const ScanFromLength = 128 * 1024;

export type JsonShapeProblem = 'depth' | 'containers' | 'values';

const Quote = 0x22;
const Backslash = 0x5c;
const Comma = 0x2c;
const OpenBracket = 0x5b;
const OpenBrace = 0x7b;
const CloseBracket = 0x5d;
const CloseBrace = 0x7d;

/** The first limit `text` goes over, or undefined; stops at the first one. */
export function jsonShapeProblem(text: string): JsonShapeProblem | undefined {
  if (text.length < ScanFromLength) return undefined;
  let depth = 0;
  let containers = 0;
  let values = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === Quote) {
      // Jump to the quote that ends the string (indexOf runs natively; most of a pod's text is
      // strings): a quote preceded by an odd number of backslashes is escaped.
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end === -1) return undefined; // unterminated: JSON.parse will say so
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === Backslash) backslashes++;
        i = end;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === Comma) {
      if (++values > MaxJsonValues) return 'values';
    } else if (c === OpenBracket || c === OpenBrace) {
      if (++depth > MaxJsonDepth) return 'depth';
      if (++containers > MaxJsonContainers) return 'containers';
      if (++values > MaxJsonValues) return 'values';
    } else if (c === CloseBracket || c === CloseBrace) {
      depth--;
    }
  }
  return undefined;
}

/** The refusal's sentence for each problem. */
export const JsonShapeProblems: Readonly<Record<JsonShapeProblem, string>> = {
  depth: `request body nests arrays or objects more than ${MaxJsonDepth} levels deep (the API server's own JSON limit): not an AdmissionReview the API server sends`,
  containers: `request body has more than ${MaxJsonContainers} JSON arrays and objects: too costly to review (a real pod has a few thousand)`,
  values: `request body has more than ${MaxJsonValues} JSON values: too costly to review (a real pod has a few thousand)`,
};
