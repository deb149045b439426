/**
 * Leaf values of the proto3 JSON mapping, read as protobuf's C++ parser (the one Envoy uses) reads
 * them: scalars, enums and the well-known types whose JSON is not an object of fields. Each reader
 * returns the value in a form the validation rules can compare (integers as bigint, durations as
 * nanoseconds, enums as numbers) or one problem sentence.
 *
 * Accepted, as the mapping says: integers as JSON numbers or decimal strings (64-bit ones are
 * usually strings), floats also as "NaN"/"Infinity"/"-Infinity", bytes as base64 (standard or
 * URL-safe, padding optional), enums by name or number, Duration as "1.5s", Timestamp as RFC 3339,
 * wrappers as their plain value, Struct/Value/ListValue as JSON. Booleans must be true/false
 * (quoted ones are legacy syntax Envoy does not enable). Message objects, Any and `null` are the
 * walker's job (proto-json-check.ts).
 */

import { Buffer } from 'node:buffer';
import type { SchemaEnum } from './envoy-schema.js';

export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

export type ScalarValue = bigint | number | boolean | string | Uint8Array;

const ok = <T>(value: T): Read<T> => ({ ok: true, value });
const bad = (problem: string): Read<never> => ({ ok: false, problem });
const show = (json: unknown): string => (typeof json === 'string' ? JSON.stringify(json) : Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json === 'object' ? 'an object' : String(json));

const IntegerRanges: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

export const ScalarKinds = new Set([...Object.keys(IntegerRanges), 'double', 'float', 'bool', 'string', 'bytes']);

export const isIntegerKind = (kind: string): boolean => kind in IntegerRanges;

/** The protobuf default of a scalar kind, as a reader would return it. */
export function scalarDefault(kind: string): ScalarValue {
  if (isIntegerKind(kind)) return 0n;
  if (kind === 'double' || kind === 'float') return 0;
  if (kind === 'bool') return false;
  if (kind === 'bytes') return new Uint8Array();
  return '';
}

export function readScalar(kind: string, json: unknown): Read<ScalarValue> {
  const range = IntegerRanges[kind];
  if (range) return readInteger(kind, range, json);
  switch (kind) {
    case 'double':
    case 'float':
      return readFloat(kind, json);
    case 'bool':
      return typeof json === 'boolean' ? ok(json) : bad(`expected true or false (bool), got ${show(json)}`);
    case 'string':
      return typeof json === 'string' ? ok(json) : bad(`expected a string, got ${show(json)}`);
    case 'bytes':
      return readBytes(json);
    default:
      throw new Error(`not a scalar kind: ${kind}`);
  }
}

function readInteger(kind: string, [min, max]: readonly [bigint, bigint], json: unknown): Read<bigint> {
  let value: bigint;
  if (typeof json === 'number') {
    if (!Number.isInteger(json)) return bad(`expected an integer (${kind}), got ${json}`);
    value = BigInt(json);
  } else if (typeof json === 'string') {
    if (!/^-?\d+$/.test(json)) return bad(`expected an integer (${kind}), got the string ${JSON.stringify(json)}`);
    value = BigInt(json);
  } else {
    return bad(`expected an integer (${kind}), got ${show(json)}`);
  }
  if (value < min || value > max) return bad(`${value} is out of range for ${kind} (${min}..${max})`);
  return ok(value);
}

function readFloat(kind: string, json: unknown): Read<number> {
  let value: number;
  if (typeof json === 'number') value = json;
  else if (json === 'NaN' || json === 'Infinity' || json === '-Infinity') return ok(Number(json));
  else if (typeof json === 'string' && /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(json)) value = Number(json);
  else return bad(`expected a number (${kind}), got ${show(json)}`);
  if (!Number.isFinite(value)) return bad(`expected a finite number (${kind}), got ${json}`);
  if (kind === 'float' && Math.abs(value) > 3.4028234663852886e38) return bad(`${value} is out of range for float`);
  return ok(value);
}

function readBytes(json: unknown): Read<Uint8Array> {
  if (typeof json !== 'string') return bad(`expected base64 bytes, got ${show(json)}`);
  const body = json.replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/_-]*$/.test(body) || body.length % 4 === 1 || json.length - body.length > 2) return bad(`expected base64 bytes, got ${JSON.stringify(json)}`);
  return ok(Uint8Array.from(Buffer.from(body.replaceAll('-', '+').replaceAll('_', '/'), 'base64')));
}

/** An enum by name (exactly as declared) or by number; undeclared numbers are kept (proto3 enums are open). */
export function readEnum(name: string, type: SchemaEnum, json: unknown): Read<number> {
  if (typeof json === 'string') {
    const number = Object.hasOwn(type.values, json) ? type.values[json] : undefined;
    return number === undefined ? bad(`"${json}" is not a value of enum ${name} (${Object.keys(type.values).join(', ')})`) : ok(number);
  }
  if (typeof json === 'number' && Number.isInteger(json) && json >= -(2 ** 31) && json < 2 ** 31) return ok(json);
  return bad(`expected a name of enum ${name}, got ${show(json)}`);
}

const MaxDurationSeconds = 315_576_000_000n;

/** google.protobuf.Duration: "-?S[.fffffffff]s", in nanoseconds. */
export function readDuration(json: unknown): Read<bigint> {
  if (typeof json !== 'string') return bad(`expected a duration string such as "1.5s" (google.protobuf.Duration), got ${show(json)}`);
  const match = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(json);
  if (!match) return bad(`expected a duration string such as "1.5s" (google.protobuf.Duration), got ${JSON.stringify(json)}`);
  const seconds = BigInt(match[2] ?? '0');
  if (seconds > MaxDurationSeconds) return bad(`duration ${json} is out of range (at most ${MaxDurationSeconds}s)`);
  const nanos = seconds * 1_000_000_000n + BigInt((match[3] ?? '').padEnd(9, '0'));
  return ok(match[1] ? -nanos : nanos);
}

/** google.protobuf.Timestamp: RFC 3339 with a "Z" or numeric offset. */
export function readTimestamp(json: unknown): Read<string> {
  const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
  if (typeof json === 'string' && rfc3339.test(json) && !Number.isNaN(Date.parse(json))) return ok(json);
  return bad(`expected an RFC 3339 timestamp (google.protobuf.Timestamp), got ${show(json)}`);
}

/** google.protobuf.FieldMask: comma-separated lowerCamelCase paths. */
export function readFieldMask(json: unknown): Read<string> {
  if (typeof json === 'string' && /^([A-Za-z0-9]+(\.[A-Za-z0-9]+)*(,[A-Za-z0-9]+(\.[A-Za-z0-9]+)*)*)?$/.test(json)) return ok(json);
  return bad(`expected comma-separated field paths (google.protobuf.FieldMask), got ${show(json)}`);
}

/** google.protobuf.Value and friends: any JSON value, and only JSON (no undefined, NaN, functions...). */
export function readJsonValue(json: unknown, expect: 'value' | 'object' | 'array'): Read<unknown> {
  if (expect === 'object' && (typeof json !== 'object' || json === null || Array.isArray(json))) return bad(`expected a JSON object (google.protobuf.Struct), got ${show(json)}`);
  if (expect === 'array' && !Array.isArray(json)) return bad(`expected a JSON array (google.protobuf.ListValue), got ${show(json)}`);
  const problem = nonJson(json);
  return problem ? bad(problem) : ok(json);
}

function nonJson(json: unknown): string | undefined {
  if (json === null || typeof json === 'string' || typeof json === 'boolean') return undefined;
  if (typeof json === 'number') return Number.isFinite(json) ? undefined : `${json} is not a JSON number`;
  if (Array.isArray(json)) return json.map(nonJson).find((p) => p !== undefined);
  if (typeof json === 'object') return Object.values(json).map(nonJson).find((p) => p !== undefined);
  return `${typeof json} is not a JSON value`;
}

/** The wrapper types and the scalar each carries. */
export const WrapperKinds: Readonly<Record<string, string>> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};
