/**
 * A small JSON scanner that records where each value sits in the source text (start and end
 * offsets), so the conflist editor can splice one plugin entry in or out and leave every other
 * byte of the network plugin's file exactly as it was. It accepts strict JSON only (RFC 8259);
 * anything else is a ScanError with the offset. Values themselves come from JSON.parse.
 */

export type JsonSpan =
  | { readonly kind: 'object'; readonly start: number; readonly end: number; readonly members: readonly JsonMember[] }
  | { readonly kind: 'array'; readonly start: number; readonly end: number; readonly elements: readonly JsonSpan[] }
  | { readonly kind: 'scalar'; readonly start: number; readonly end: number };

export interface JsonMember {
  readonly key: string;
  readonly keyStart: number;
  readonly value: JsonSpan;
}

export class ScanError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'ScanError';
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/** Scans the whole text as one JSON value (surrounding whitespace allowed, a UTF-8 BOM refused). */
export function scanJson(text: string): JsonSpan {
  let pos = 0;

  const skip = () => {
    while (pos < text.length && WHITESPACE.has(text[pos]!)) pos++;
  };
  const expect = (ch: string) => {
    if (text[pos] !== ch) throw new ScanError(`expected ${JSON.stringify(ch)}, found ${text[pos] === undefined ? 'end of text' : JSON.stringify(text[pos])}`, pos);
    pos++;
  };

  const scanString = (): string => {
    const start = pos;
    expect('"');
    while (pos < text.length) {
      const ch = text[pos]!;
      if (ch === '"') {
        pos++;
        return JSON.parse(text.slice(start, pos)) as string;
      }
      if (ch === '\\') pos += 2;
      else if (ch < ' ') throw new ScanError('control character in string', pos);
      else pos++;
    }
    throw new ScanError('unterminated string', start);
  };

  const scanValue = (): JsonSpan => {
    skip();
    const start = pos;
    const ch = text[pos];
    if (ch === '{') {
      pos++;
      const members: JsonMember[] = [];
      skip();
      if (text[pos] === '}') {
        pos++;
        return { kind: 'object', start, end: pos, members };
      }
      for (;;) {
        skip();
        const keyStart = pos;
        const key = scanString();
        skip();
        expect(':');
        members.push({ key, keyStart, value: scanValue() });
        skip();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        expect('}');
        return { kind: 'object', start, end: pos, members };
      }
    }
    if (ch === '[') {
      pos++;
      const elements: JsonSpan[] = [];
      skip();
      if (text[pos] === ']') {
        pos++;
        return { kind: 'array', start, end: pos, elements };
      }
      for (;;) {
        elements.push(scanValue());
        skip();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        expect(']');
        return { kind: 'array', start, end: pos, elements };
      }
    }
    if (ch === '"') {
      scanString();
      return { kind: 'scalar', start, end: pos };
    }
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(pos, pos + 64));
    if (!literal) throw new ScanError(ch === undefined ? 'unexpected end of text' : `unexpected ${JSON.stringify(ch)}`, pos);
    pos += literal[0].length;
    return { kind: 'scalar', start, end: pos };
  };

  const value = scanValue();
  skip();
  if (pos !== text.length) throw new ScanError('unexpected text after the JSON value', pos);
  return value;
}

/** The member `key` of an object span, if present (the last one wins, as in JSON.parse). */
export function memberOf(span: JsonSpan, key: string): JsonSpan | undefined {
  if (span.kind !== 'object') return undefined;
  let found: JsonSpan | undefined;
  for (const member of span.members) if (member.key === key) found = member.value;
  return found;
}
