/**
 * A small checker for configuration read from YAML: walks plain values, collects one problem per
 * bad field with its path (`config.yaml .proxy.image`), and never throws. The caller turns the
 * collected problems into one InvalidInput error, so every bad field is named at once.
 */

import type { FieldProblem } from '../../common/errors.js';

export type PlainObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Renders a value for a problem line: short, never the whole document. */
export function show(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export class ConfigReader {
  readonly problems: FieldProblem[] = [];

  constructor(private readonly source: string) {}

  at(path: string): string {
    return `${this.source} ${path}`;
  }

  bad(path: string, value: unknown, reason: string): void {
    this.problems.push({ source: this.at(path), value: show(value), reason });
  }

  /** An object with only the given keys; unknown keys are reported. Missing: `{}`. */
  object(path: string, value: unknown, keys: readonly string[]): PlainObject {
    if (value === undefined || value === null) return {};
    if (!isPlainObject(value)) {
      this.bad(path, value, 'must be a mapping');
      return {};
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) this.bad(`${path === '.' ? '' : path}.${key}`, value[key], `unknown key (known: ${keys.join(', ')})`);
    }
    return value;
  }

  string(path: string, value: unknown, fallback: string, { nonEmpty = true } = {}): string {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string') {
      this.bad(path, value, 'must be a string');
      return fallback;
    }
    if (nonEmpty && value.trim() === '') {
      this.bad(path, value, 'must not be empty');
      return fallback;
    }
    return value;
  }

  boolean(path: string, value: unknown, fallback: boolean): boolean {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') {
      this.bad(path, value, 'must be true or false');
      return fallback;
    }
    return value;
  }

  integer(path: string, value: unknown, fallback: number, min: number, max: number): number {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.bad(path, value, `must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[], fallback: T): T {
    if (value === undefined || value === null) return fallback;
    const found = allowed.find((a) => a === value);
    if (found === undefined) {
      this.bad(path, value, `must be one of ${allowed.join(', ')}`);
      return fallback;
    }
    return found;
  }

  /** A list whose items are read by `item`; items that read as undefined are dropped. */
  list<T>(path: string, value: unknown, item: (itemPath: string, value: unknown) => T | undefined): T[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.bad(path, value, 'must be a list');
      return [];
    }
    const out: T[] = [];
    value.forEach((v, i) => {
      const read = item(`${path}[${i}]`, v);
      if (read !== undefined) out.push(read);
    });
    return out;
  }

  /** A mapping of string keys to string values (numbers are accepted and written as text). */
  stringMap(path: string, value: unknown, checkValue?: (v: string) => string | undefined): Record<string, string> {
    if (value === undefined || value === null) return {};
    if (!isPlainObject(value)) {
      this.bad(path, value, 'must be a mapping');
      return {};
    }
    const out: Record<string, string> = {};
    for (const [key, v] of Object.entries(value)) {
      if (typeof v !== 'string' && typeof v !== 'number') {
        this.bad(`${path}.${key}`, v, 'must be a string');
        continue;
      }
      const text = String(v);
      const reason = checkValue?.(text);
      if (reason) this.bad(`${path}.${key}`, v, reason);
      else out[key] = text;
    }
    return out;
  }
}
