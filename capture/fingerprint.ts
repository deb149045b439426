/**
 * A short, stable, dependency-free hash (64-bit FNV-1a) used to recognise an already-applied
 * plan. Not for security: it only tells "same rules as last time" apart from "different".
 */

export function fingerprint(text: string): string {
  let hash = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * prime) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}
