/**
 * A short, stable, dependency-free hash used to recognise an already-applied plan: two 32-bit
 * FNV-1a passes with different offsets, 16 hex digits. Not for security: it only tells "same
 * rules as last time" apart from "different". Plain 32-bit integer arithmetic keeps it
 * allocation-free (it runs on every pod start).
 */

export function fingerprint(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
