/**
 * protoc-gen-validate rules, the `(validate.rules)` field options and `(validate.required)` oneof
 * option of Envoy's protos (kept as written in the compact schema, envoy-schema.ts), evaluated on
 * values the proto3 JSON walker has read. Envoy runs these checks (the generated `Validate()`) on
 * the bootstrap at load, and on each typed_config when its extension unpacks it, so a bootstrap
 * breaking one never starts.
 *
 * Evaluated: message.required and skip; numbers const/lt/lte/gt/gte/in/not_in (a reversed gt/lt
 * pair means "outside", as in PGV); bool const; string const/len/min_len/max_len/len_bytes/
 * min_bytes/max_bytes/pattern/prefix/suffix/contains/not_contains/in/not_in and the HTTP header
 * well_known_regex (strict or not); bytes lengths; enum const/defined_only/in/not_in; duration
 * required and bounds; any required/in/not_in; timestamp required; repeated min_items/max_items/
 * unique/items; map min_pairs/max_pairs/keys/values; ignore_empty. Any other rule (email,
 * hostname, ip, uri...) is not evaluated but reported as unchecked, so a test can insist that
 * none was met. Patterns are RE2 in PGV and run here as JavaScript regular expressions.
 */

import { Buffer } from 'node:buffer';
import { enumValueName, type FieldRules, type SchemaEnum, shortName } from './envoy-schema.js';

export type { FieldRules } from './envoy-schema.js';

/** A field value as the rules see it; the walker reads JSON into these. */
export type RuleValue =
  | { readonly kind: 'integer'; readonly value: bigint }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'bytes'; readonly value: Uint8Array }
  | { readonly kind: 'enum'; readonly value: number; readonly typeName: string; readonly type: SchemaEnum }
  | { readonly kind: 'duration'; readonly value: bigint }
  | { readonly kind: 'any'; readonly typeUrl: string }
  | { readonly kind: 'message' };

export interface RuleSink {
  /** Reports a broken rule at the value's JSON path (the walker knows it). */
  readonly problem: (message: string) => void;
  /** Collects rules met but not evaluated, as `group.rule`. */
  readonly unchecked: Set<string>;
}

const SinglesByGroup: Readonly<Record<string, readonly string[]>> = {
  number: ['const', 'lt', 'lte', 'gt', 'gte', 'in', 'not_in', 'ignore_empty'],
  bool: ['const'],
  string: ['const', 'len', 'min_len', 'max_len', 'len_bytes', 'min_bytes', 'max_bytes', 'pattern', 'prefix', 'suffix', 'contains', 'not_contains', 'in', 'not_in', 'well_known_regex', 'strict', 'ignore_empty'],
  bytes: ['const', 'len', 'min_len', 'max_len', 'prefix', 'suffix', 'contains', 'in', 'not_in', 'ignore_empty'],
  enum: ['const', 'defined_only', 'in', 'not_in'],
  duration: ['required', 'const', 'lt', 'lte', 'gt', 'gte', 'in', 'not_in'],
  any: ['required', 'in', 'not_in'],
  timestamp: ['required'],
  message: ['required', 'skip'],
};

const NumberGroups = new Set(['float', 'double', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);

/**
 * Checks a singular field's rules. `value` undefined means the field is absent; the walker passes
 * a scalar's default instead when protobuf has no presence for it (PGV checks those too).
 */
export function checkFieldRules(rules: FieldRules, value: RuleValue | undefined, sink: RuleSink): void {
  for (const [group, groupRules] of Object.entries(rules)) {
    if (group === 'repeated' || group === 'map') continue; // the walker calls the collection checks
    const known = SinglesByGroup[NumberGroups.has(group) ? 'number' : group];
    if (!known) {
      sink.unchecked.add(group);
      continue;
    }
    for (const rule of Object.keys(groupRules)) if (!known.includes(rule)) sink.unchecked.add(`${group}.${rule}`);
    if (group === 'message' || group === 'duration' || group === 'any' || group === 'timestamp') {
      if (groupRules.required === true && value === undefined) sink.problem(`is required (${group}.required)`);
    }
    if (value === undefined) continue;
    if (NumberGroups.has(group) && (value.kind === 'integer' || value.kind === 'float')) checkNumber(group, groupRules, value.value, sink);
    else if (group === 'duration' && value.kind === 'duration') checkNumber(group, groupRules, value.value, sink);
    else if (group === 'bool' && value.kind === 'bool' && groupRules.const !== undefined && value.value !== groupRules.const) sink.problem(`must be ${String(groupRules.const)} (bool.const)`);
    else if (group === 'string' && value.kind === 'string') checkString(groupRules, value.value, sink);
    else if (group === 'bytes' && value.kind === 'bytes') checkBytes(groupRules, value.value, sink);
    else if (group === 'enum' && value.kind === 'enum') checkEnum(groupRules, value.value, value.typeName, value.type, sink);
    else if (group === 'any' && value.kind === 'any') checkAny(groupRules, value.typeUrl, sink);
  }
}

/** repeated.min_items/max_items/unique, and repeated.items on each item (reported at the item's path). */
export function checkRepeatedRules(rules: FieldRules, items: readonly { readonly value: RuleValue | undefined; readonly sink: RuleSink }[], sink: RuleSink): void {
  const repeated = rules.repeated;
  if (!repeated) return;
  for (const rule of Object.keys(repeated)) if (!['min_items', 'max_items', 'unique', 'items', 'ignore_empty'].includes(rule)) sink.unchecked.add(`repeated.${rule}`);
  if (repeated.ignore_empty === true && items.length === 0) return;
  const count = BigInt(items.length);
  if (repeated.min_items !== undefined && count < toBigInt(repeated.min_items)) sink.problem(`needs at least ${String(repeated.min_items)} item(s), has ${items.length} (repeated.min_items)`);
  if (repeated.max_items !== undefined && count > toBigInt(repeated.max_items)) sink.problem(`allows at most ${String(repeated.max_items)} item(s), has ${items.length} (repeated.max_items)`);
  if (repeated.unique === true) {
    const keys = items.map((item, index) => ruleValueKey(item.value, index));
    if (new Set(keys).size !== keys.length) sink.problem('items must be unique (repeated.unique)');
  }
  if (isRecord(repeated.items)) for (const item of items) checkFieldRules(repeated.items as FieldRules, item.value, item.sink);
}

/** map.min_pairs/max_pairs, and map.keys / map.values on each entry (reported at the entry's path). */
export function checkMapRules(
  rules: FieldRules,
  entries: readonly { readonly key: RuleValue | undefined; readonly value: RuleValue | undefined; readonly sink: RuleSink }[],
  sink: RuleSink,
): void {
  const map = rules.map;
  if (!map) return;
  for (const rule of Object.keys(map)) if (!['min_pairs', 'max_pairs', 'keys', 'values', 'ignore_empty'].includes(rule)) sink.unchecked.add(`map.${rule}`);
  if (map.ignore_empty === true && entries.length === 0) return;
  const count = BigInt(entries.length);
  if (map.min_pairs !== undefined && count < toBigInt(map.min_pairs)) sink.problem(`needs at least ${String(map.min_pairs)} entries, has ${entries.length} (map.min_pairs)`);
  if (map.max_pairs !== undefined && count > toBigInt(map.max_pairs)) sink.problem(`allows at most ${String(map.max_pairs)} entries, has ${entries.length} (map.max_pairs)`);
  for (const entry of entries) {
    if (isRecord(map.keys)) checkFieldRules(map.keys as FieldRules, entry.key, { ...entry.sink, problem: (m) => entry.sink.problem(`key ${m}`) });
    if (isRecord(map.values)) checkFieldRules(map.values as FieldRules, entry.value, entry.sink);
  }
}

function checkNumber(group: string, rules: Readonly<Record<string, unknown>>, value: bigint | number, sink: RuleSink): void {
  const bound = (x: unknown): bigint | number => (group === 'duration' ? durationNanos(x) : typeof value === 'bigint' ? toBigInt(x) : Number(x));
  const show = (x: bigint | number): string => (group === 'duration' ? `${Number(x) / 1e9}s` : String(x));
  if (rules.ignore_empty === true && (value === 0 || value === 0n)) return;
  if (rules.const !== undefined && value !== bound(rules.const)) sink.problem(`${show(value)} must equal ${show(bound(rules.const))} (${group}.const)`);
  if (rules.in !== undefined && !asList(rules.in).map(bound).includes(value)) sink.problem(`${show(value)} must be one of ${asList(rules.in).map(bound).map(show).join(', ')} (${group}.in)`);
  if (rules.not_in !== undefined && asList(rules.not_in).map(bound).includes(value)) sink.problem(`${show(value)} must not be one of ${asList(rules.not_in).map(bound).map(show).join(', ')} (${group}.not_in)`);

  const lowerRule = rules.gt !== undefined ? 'gt' : rules.gte !== undefined ? 'gte' : undefined;
  const upperRule = rules.lt !== undefined ? 'lt' : rules.lte !== undefined ? 'lte' : undefined;
  const lower = lowerRule ? bound(rules[lowerRule]) : undefined;
  const upper = upperRule ? bound(rules[upperRule]) : undefined;
  const lowerOk = lower === undefined || (lowerRule === 'gt' ? value > lower : value >= lower);
  const upperOk = upper === undefined || (upperRule === 'lt' ? value < upper : value <= upper);
  const words: Readonly<Record<string, string>> = { gt: 'greater than', gte: 'at least', lt: 'less than', lte: 'at most' };
  if (lower !== undefined && upper !== undefined && upper < lower) {
    // PGV: an upper bound below the lower one asks for a value outside the range between them.
    if (!lowerOk && !upperOk) sink.problem(`${show(value)} must be ${words[upperRule!]} ${show(upper)} or ${words[lowerRule!]} ${show(lower)} (${group}.${upperRule}/${lowerRule})`);
    return;
  }
  if (!lowerOk) sink.problem(`${show(value)} must be ${words[lowerRule!]} ${show(lower!)} (${group}.${lowerRule})`);
  if (!upperOk) sink.problem(`${show(value)} must be ${words[upperRule!]} ${show(upper!)} (${group}.${upperRule})`);
}

/** RFC 7230 tokens (plus the leading ':' of HTTP/2 pseudo-headers), field values without controls but tab; loose: no NUL, CR, LF. */
const HeaderRegexes: Readonly<Record<string, { readonly strict: RegExp; readonly loose: RegExp }>> = {
  HTTP_HEADER_NAME: { strict: /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/, loose: /^[^\0\n\r]+$/ },
  HTTP_HEADER_VALUE: { strict: /^[^\0-\x08\x0a-\x1f\x7f]*$/, loose: /^[^\0\n\r]*$/ },
};

function checkString(rules: Readonly<Record<string, unknown>>, value: string, sink: RuleSink): void {
  if (rules.ignore_empty === true && value === '') return;
  const chars = [...value].length;
  const bytes = Buffer.byteLength(value, 'utf8');
  const shown = JSON.stringify(value);
  const limit = (rule: string, ok: boolean, wanted: string): void => {
    if (rules[rule] !== undefined && !ok) sink.problem(`${shown} ${wanted} (string.${rule})`);
  };
  limit('const', value === rules.const, `must equal ${JSON.stringify(rules.const)}`);
  limit('len', chars === Number(rules.len), `must be ${String(rules.len)} characters long`);
  limit('min_len', chars >= Number(rules.min_len), `must be at least ${String(rules.min_len)} character(s) long`);
  limit('max_len', chars <= Number(rules.max_len), `must be at most ${String(rules.max_len)} characters long`);
  limit('len_bytes', bytes === Number(rules.len_bytes), `must be ${String(rules.len_bytes)} bytes long`);
  limit('min_bytes', bytes >= Number(rules.min_bytes), `must be at least ${String(rules.min_bytes)} byte(s) long`);
  limit('max_bytes', bytes <= Number(rules.max_bytes), `must be at most ${String(rules.max_bytes)} bytes long`);
  limit('pattern', new RegExp(String(rules.pattern), 'u').test(value), `must match /${String(rules.pattern)}/`);
  limit('prefix', value.startsWith(String(rules.prefix)), `must start with ${JSON.stringify(rules.prefix)}`);
  limit('suffix', value.endsWith(String(rules.suffix)), `must end with ${JSON.stringify(rules.suffix)}`);
  limit('contains', value.includes(String(rules.contains)), `must contain ${JSON.stringify(rules.contains)}`);
  limit('not_contains', !value.includes(String(rules.not_contains)), `must not contain ${JSON.stringify(rules.not_contains)}`);
  limit('in', asList(rules.in).includes(value), `must be one of ${asList(rules.in).join(', ')}`);
  limit('not_in', !asList(rules.not_in).includes(value), `must not be one of ${asList(rules.not_in).join(', ')}`);
  const known = HeaderRegexes[String(rules.well_known_regex)];
  if (rules.well_known_regex !== undefined && rules.well_known_regex !== 'UNKNOWN') {
    if (!known) sink.unchecked.add(`string.well_known_regex ${String(rules.well_known_regex)}`);
    else if (!(rules.strict === false ? known.loose : known.strict).test(value)) sink.problem(`${shown} is not a valid ${String(rules.well_known_regex)} (string.well_known_regex)`);
  }
}

function checkBytes(rules: Readonly<Record<string, unknown>>, value: Uint8Array, sink: RuleSink): void {
  if (rules.ignore_empty === true && value.length === 0) return;
  const text = Buffer.from(value).toString('latin1');
  const asText = (x: unknown): string => Buffer.from(String(x), 'base64').toString('latin1');
  const check = (rule: string, ok: (x: unknown) => boolean, wanted: string): void => {
    if (rules[rule] !== undefined && !ok(rules[rule])) sink.problem(`${value.length} bytes ${wanted} (bytes.${rule})`);
  };
  check('len', (x) => value.length === Number(x), `must be ${String(rules.len)} bytes long`);
  check('min_len', (x) => value.length >= Number(x), `must be at least ${String(rules.min_len)} byte(s) long`);
  check('max_len', (x) => value.length <= Number(x), `must be at most ${String(rules.max_len)} bytes long`);
  check('const', (x) => text === asText(x), 'must equal the constant');
  check('prefix', (x) => text.startsWith(asText(x)), 'must start with the prefix');
  check('suffix', (x) => text.endsWith(asText(x)), 'must end with the suffix');
  check('contains', (x) => text.includes(asText(x)), 'must contain the given bytes');
  check('in', (x) => asList(x).map(asText).includes(text), 'must be one of the listed values');
  check('not_in', (x) => !asList(x).map(asText).includes(text), 'must not be one of the listed values');
}

function checkEnum(rules: Readonly<Record<string, unknown>>, value: number, typeName: string, type: SchemaEnum, sink: RuleSink): void {
  const name = (n: unknown): string => enumValueName(type, Number(n)) ?? String(n);
  if (rules.defined_only === true && enumValueName(type, value) === undefined) sink.problem(`${value} is not a defined value of ${shortName(typeName)} (enum.defined_only)`);
  if (rules.const !== undefined && value !== Number(rules.const)) sink.problem(`${name(value)} must be ${name(rules.const)} (enum.const)`);
  if (rules.in !== undefined && !asList(rules.in).map(Number).includes(value)) sink.problem(`${name(value)} must be one of ${asList(rules.in).map(name).join(', ')} (enum.in)`);
  if (rules.not_in !== undefined && asList(rules.not_in).map(Number).includes(value)) sink.problem(`${name(value)} is not allowed here (enum.not_in: ${asList(rules.not_in).map(name).join(', ')})`);
}

function checkAny(rules: Readonly<Record<string, unknown>>, typeUrl: string, sink: RuleSink): void {
  if (rules.in !== undefined && !asList(rules.in).includes(typeUrl)) sink.problem(`type ${typeUrl} must be one of ${asList(rules.in).join(', ')} (any.in)`);
  if (rules.not_in !== undefined && asList(rules.not_in).includes(typeUrl)) sink.problem(`type ${typeUrl} is not allowed here (any.not_in)`);
}

/** A duration bound in the options, `{ seconds, nanos }` (either may be missing), in nanoseconds. */
function durationNanos(x: unknown): bigint {
  const d = isRecord(x) ? x : {};
  return toBigInt(d.seconds ?? 0) * 1_000_000_000n + toBigInt(d.nanos ?? 0);
}

function toBigInt(x: unknown): bigint {
  if (typeof x === 'bigint') return x;
  if (typeof x === 'number') return BigInt(Math.trunc(x));
  return BigInt(String(x)); // decimal strings
}

function ruleValueKey(value: RuleValue | undefined, index: number): string {
  if (value === undefined || value.kind === 'message') return `message #${index}`; // PGV: unique compares scalars only
  if (value.kind === 'any') return `any ${value.typeUrl}`;
  if (value.kind === 'bytes') return `bytes ${Buffer.from(value.value).toString('hex')}`;
  return `${value.kind} ${String(value.value)}`;
}

const asList = (x: unknown): readonly unknown[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
