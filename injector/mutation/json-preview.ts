/**
 * A short rendering of an untrusted JSON value for an error message: the value's JSON text cut to
 * `max` characters (a string is shown as it is, not quoted). Built iteratively and only as far as
 * needed, so a value nested thousands of levels deep or megabytes large costs a few hundred steps,
 * never a stack overflow or a copy of the whole value (JSON.stringify, and String() on arrays, are
 * recursive and render everything before anything can be cut).
 * Limit: plain JSON data (what JSON.parse or a YAML parser returns); `undefined` renders as ''.
 */

type Frame = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'value'; readonly value: unknown };

/** JSON text of a scalar, with a long string cut before it is escaped. */
function scalar(value: unknown, max: number): string {
  if (typeof value === 'string') return JSON.stringify(value.length > max ? value.slice(0, max) : value);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  return 'null';
}

export function jsonPreview(value: unknown, max = 80): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.length > max ? `${value.slice(0, max - 3)}...` : value;
  let out = '';
  const stack: Frame[] = [{ kind: 'value', value }];
  while (stack.length > 0 && out.length <= max) {
    const frame = stack.pop() as Frame;
    if (frame.kind === 'text') {
      out += frame.text;
      continue;
    }
    const item = frame.value;
    if (typeof item !== 'object' || item === null) {
      out += scalar(item, max);
      continue;
    }
    // Only as many children as could still show: each adds at least one character.
    const room = max - out.length + 1;
    if (Array.isArray(item)) {
      out += '[';
      const shown = Math.min(item.length, room);
      stack.push({ kind: 'text', text: shown < item.length ? ',...]' : ']' });
      for (let i = shown - 1; i >= 0; i--) {
        stack.push({ kind: 'value', value: item[i] });
        if (i > 0) stack.push({ kind: 'text', text: ',' });
      }
      continue;
    }
    out += '{';
    const keys: string[] = [];
    for (const key in item) {
      if (!Object.hasOwn(item, key)) continue;
      if (keys.length >= room) break;
      keys.push(key);
    }
    stack.push({ kind: 'text', text: '}' });
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      stack.push({ kind: 'value', value: (item as Record<string, unknown>)[key] });
      stack.push({ kind: 'text', text: `${i > 0 ? ',' : ''}${scalar(key, max)}:` });
    }
  }
  return out.length > max ? `${out.slice(0, max - 3)}...` : out;
}
