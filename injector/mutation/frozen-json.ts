/**
 * Shared, immutable JSON values with their JSON text computed once. The injector adds the same
 * containers (the proxy with its 3.5 KB inline Envoy bootstrap, proxy-init) to every pod with
 * the same resolved options; building, then serialising them into each response's patch was most
 * of an admission's work. `freezeJson` deep-freezes a value (so sharing it between pods is safe:
 * a write through any pod throws in strict code) and remembers its JSON text; `toJsonText`
 * serialises a value exactly as JSON.stringify does, reusing remembered text for frozen parts.
 *
 * Limits: only plain JSON data (no toJSON methods, no cycles); remembered text is looked up by
 * object identity, so a copy of a frozen value is serialised the ordinary way.
 */

const texts = new WeakMap<object, string>();

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  for (const item of Object.values(value)) deepFreeze(item);
  Object.freeze(value);
}

/** Deep-freezes `value` in place, records its JSON text, and returns it. */
export function freezeJson<T extends object>(value: T): T {
  deepFreeze(value);
  texts.set(value, JSON.stringify(value));
  return value;
}

/**
 * JSON.stringify(value), byte for byte, where frozen values recorded by freezeJson are copied
 * from their text. Arrays and objects are walked down to `depth` levels looking for them (the
 * patch's operations and their list values); below that JSON.stringify does the rest.
 */
export function toJsonText(value: unknown, depth = 3): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  const known = texts.get(value);
  if (known !== undefined) return known;
  if (depth === 0) return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      out += (i === 0 ? '' : ',') + (item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : toJsonText(item, depth - 1));
    }
    return `${out}]`;
  }
  if ('toJSON' in value) return JSON.stringify(value);
  let out = '{';
  let first = true;
  for (const key of Object.keys(value)) {
    const item: unknown = (value as Record<string, unknown>)[key];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${toJsonText(item, depth - 1)}`;
    first = false;
  }
  return `${out}}`;
}
