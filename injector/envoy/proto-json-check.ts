/**
 * A strict checker of the proto3 JSON mapping: walks a JSON (or parsed YAML) document against a
 * message type of the compact Envoy schema (envoy-schema.ts) and lists every place where protobuf's C++ JSON parser, as
 * Envoy runs it (unknown fields rejected), or the protoc-gen-validate rules would refuse it, each
 * with its JSON path (`$.static_resources.clusters[0].type`). It never stops at the first problem.
 *
 * Per message: every key must be a field (by its proto name or JSON name, not both); at most one
 * member of a oneof may be set; `null` means "not set". Per field: repeated ones are arrays (no
 * null items), maps are objects (keys read as the key type), scalars and enums as
 * proto-json-values.ts reads them, messages recursively. An Any needs
 * "@type": "type.googleapis.com/<full name>" naming a message of the schema (Envoy's descriptor
 * pool; a type the schema lacks is a violation); its other keys are checked against that type, or
 * its "value" when the type has a special JSON form (Duration, Struct, wrappers...).
 * PGV rules run as pgv-rules.ts says (scalars without presence are checked at their default when
 * absent, as PGV does). Fields marked `deprecated` are listed; Envoy's
 * `(envoy.annotations.disallowed_by_default)` ones, which Envoy refuses, are violations.
 *
 * Not modelled: Envoy's TypedStruct (a typed_config given as xds.type.v3.TypedStruct is checked as
 * that message, its `value` as any Struct); an empty Any (`{}`), valid JSON that Envoy's extension
 * lookup would then refuse; the semantic checks Envoy makes in C++ after parsing.
 */

import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import { type EnvoySchema, enumValueName, fieldByKey, packageOf, type SchemaEnum, type SchemaField, type SchemaMessage } from './envoy-schema.js';
import { checkFieldRules, checkMapRules, checkRepeatedRules, type FieldRules, type RuleSink, type RuleValue } from './pgv-rules.js';
import {
  isIntegerKind,
  type Read,
  readDuration,
  readEnum,
  readFieldMask,
  readJsonValue,
  readScalar,
  readTimestamp,
  ScalarKinds,
  scalarDefault,
  type ScalarValue,
  WrapperKinds,
} from './proto-json-values.js';

export interface ProtoJsonViolation {
  readonly path: string;
  readonly message: string;
}

export interface ProtoJsonReport {
  readonly violations: readonly ProtoJsonViolation[];
  /** Paths of deprecated fields and enum values the document sets (Envoy warns, and may drop them). */
  readonly deprecated: readonly string[];
  /** Validation rules met that pgv-rules.ts does not evaluate (`string.hostname`...). */
  readonly uncheckedRules: readonly string[];
  /** `@type`s let through unchecked: in a package the vendored protos cannot load, or in none the schema knows. */
  readonly uncheckedTypes: readonly string[];
}

export const AnyTypeUrlPrefix = 'type.googleapis.com/';

/** Checks `json` as the JSON form of the message `typeName`; Any values name other messages of the schema. */
export function checkProtoJson(json: unknown, schema: EnvoySchema, typeName: string): ProtoJsonReport {
  const walker = new Walker(schema);
  walker.value(json, walker.messageType(typeName), '$', true);
  return { violations: walker.violations, deprecated: walker.deprecated, uncheckedRules: [...walker.unchecked].sort(), uncheckedTypes: [...walker.uncheckedTypes].sort() };
}

/** One line per violation: `$.path: message`. */
export function describeViolations(violations: readonly ProtoJsonViolation[]): string {
  return violations.map((v) => `${v.path}: ${v.message}`).join('\n');
}

export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** A field's value type: a scalar kind, or a message or enum of the schema with its full name. */
type ValueType = string | { readonly kind: 'message'; readonly name: string; readonly message: SchemaMessage } | { readonly kind: 'enum'; readonly name: string; readonly enum: SchemaEnum };
type MessageType = Extract<ValueType, { kind: 'message' }>;

class Walker {
  readonly violations: ProtoJsonViolation[] = [];
  readonly deprecated: string[] = [];
  readonly unchecked = new Set<string>();
  readonly uncheckedTypes = new Set<string>();

  constructor(private readonly schema: EnvoySchema) {}

  /** A message the schema must have (a field's type, the root): a missing one is a broken schema. */
  messageType(name: string): MessageType {
    const message = Object.hasOwn(this.schema.messages, name) ? this.schema.messages[name] : undefined;
    if (!message) throw new OutriggerError(ErrorCodes.Internal, `the Envoy schema has no message ${name}`);
    return { kind: 'message', name, message };
  }

  valueType(field: SchemaField): ValueType {
    if (ScalarKinds.has(field.type)) return field.type;
    const type = Object.hasOwn(this.schema.enums, field.type) ? this.schema.enums[field.type] : undefined;
    return type ? { kind: 'enum', name: field.type, enum: type } : this.messageType(field.type);
  }

  private report(path: string, message: string): void {
    this.violations.push({ path, message });
  }

  private sink(path: string): RuleSink {
    return { problem: (message) => this.report(path, message), unchecked: this.unchecked };
  }

  /** Reads one non-null JSON value of the given type; returns what the rules need, or undefined after reporting. */
  value(json: unknown, type: ValueType, path: string, validate: boolean): RuleValue | undefined {
    if (typeof type === 'string') return this.fromRead(readScalar(type, json), path, (v) => scalarRuleValue(type, v));
    if (type.kind === 'enum') return this.enumValue(json, type.name, type.enum, path);
    const { name } = type;
    const wrapped = WrapperKinds[name];
    if (wrapped) return this.fromRead(readScalar(wrapped, json), path, (v) => scalarRuleValue(wrapped, v));
    switch (name) {
      case 'google.protobuf.Any':
        return this.any(json, path, validate);
      case 'google.protobuf.Duration':
        return this.fromRead(readDuration(json), path, (value) => ({ kind: 'duration', value }));
      case 'google.protobuf.Timestamp':
        return this.fromRead(readTimestamp(json), path, () => ({ kind: 'message' }));
      case 'google.protobuf.FieldMask':
        return this.fromRead(readFieldMask(json), path, () => ({ kind: 'message' }));
      case 'google.protobuf.Struct':
        return this.fromRead(readJsonValue(json, 'object'), path, () => ({ kind: 'message' }));
      case 'google.protobuf.ListValue':
        return this.fromRead(readJsonValue(json, 'array'), path, () => ({ kind: 'message' }));
      case 'google.protobuf.Value':
        return this.fromRead(readJsonValue(json, 'value'), path, () => ({ kind: 'message' }));
      default:
        if (type.message.wellKnown) throw new OutriggerError(ErrorCodes.Internal, `the Envoy schema marks ${name} as a well-known JSON type this checker does not know`);
        return this.message(json, type, path, validate) ? { kind: 'message' } : undefined;
    }
  }

  private fromRead<T>(read: Read<T>, path: string, toRule: (value: T) => RuleValue): RuleValue | undefined {
    if (read.ok) return toRule(read.value);
    this.report(path, read.problem);
    return undefined;
  }

  private enumValue(json: unknown, typeName: string, type: SchemaEnum, path: string): RuleValue | undefined {
    if (typeName === 'google.protobuf.NullValue') {
      if (json !== null) this.report(path, `expected null (google.protobuf.NullValue), got ${JSON.stringify(json)}`);
      return { kind: 'enum', value: 0, typeName, type };
    }
    const read = readEnum(typeName, type, json);
    if (!read.ok) {
      this.report(path, read.problem);
      return undefined;
    }
    const valueName = enumValueName(type, read.value);
    if (valueName !== undefined && type.disallowed?.includes(valueName)) this.report(path, `${valueName} of ${typeName} is deprecated and disallowed by default in Envoy`);
    else if (valueName !== undefined && type.deprecated?.includes(valueName)) this.deprecated.push(path);
    return { kind: 'enum', value: read.value, typeName, type };
  }

  /** A message given as an object of fields; false (after reporting) when it is not an object. */
  private message(json: unknown, type: MessageType, path: string, validate: boolean, ignoredKeys: readonly string[] = []): boolean {
    const { name, message } = type;
    if (!isObject(json)) {
      this.report(path, `expected an object (${name}), got ${describe(json)}`);
      return false;
    }
    const keyOf = new Map<SchemaField, string>();
    for (const key of Object.keys(json)) {
      if (ignoredKeys.includes(key)) continue;
      const field = fieldByKey(message, key);
      if (!field) {
        this.report(childPath(path, key), `unknown field "${key}" in ${name}${suggestion(key, message)}`);
        continue;
      }
      const earlier = keyOf.get(field);
      if (earlier !== undefined) {
        this.report(childPath(path, key), `field ${field.name} of ${name} is given twice, as "${earlier}" and "${key}"`);
        continue;
      }
      keyOf.set(field, key);
    }
    const isSet = (field: SchemaField): boolean => {
      const key = keyOf.get(field);
      return key !== undefined && json[key] !== null && json[key] !== undefined;
    };

    for (const oneof of message.oneofs ?? []) {
      const members = message.fields.filter((f) => f.oneof === oneof.name);
      const set = members.filter(isSet);
      if (set.length > 1) this.report(path, `oneof ${oneof.name} of ${name} has ${set.length} members set (${set.map((f) => keyOf.get(f)).join(', ')}); at most one may be`);
      if (validate && set.length === 0 && oneof.required) this.report(path, `oneof ${oneof.name} of ${name} is required: set one of ${members.map((f) => f.name).join(', ')} (validate.required)`);
    }

    for (const field of message.fields) {
      const key = keyOf.get(field);
      const fieldPath = childPath(path, key ?? field.name);
      if (isSet(field)) this.noteDeprecation(field, fieldPath, name);
      this.field(field, isSet(field) ? json[key!] : undefined, fieldPath, validate);
    }
    return true;
  }

  private noteDeprecation(field: SchemaField, path: string, typeName: string): void {
    if (field.disallowed) this.report(path, `field ${field.name} of ${typeName} is deprecated and disallowed by default in Envoy`);
    else if (field.deprecated) this.deprecated.push(path);
  }

  /** One field; `json` undefined when it is not set (absent or null). */
  private field(field: SchemaField, json: unknown, path: string, validate: boolean): void {
    const rules = validate ? field.rules : undefined;
    if (field.map !== undefined) return this.mapField(field.map, this.valueType(field), json, path, validate, rules);
    const type = this.valueType(field);
    if (field.repeated) return this.repeatedField(type, json, path, validate, rules);

    const inner = validate && rules?.message?.skip !== true;
    if (json === undefined) {
      // PGV checks oneof members and proto3 optional fields only when set, other scalars and enums
      // at their default, and absent messages only for `required`.
      if (!rules || field.oneof !== undefined || field.optional) return;
      const sink = this.sink(path);
      const atDefault: RuleSink = { ...sink, problem: (message) => sink.problem(`not set, so it has the default value, and ${message}`) };
      if (typeof type === 'string') checkFieldRules(rules, scalarRuleValue(type, scalarDefault(type)), atDefault);
      else if (type.kind === 'enum') checkFieldRules(rules, { kind: 'enum', value: 0, typeName: type.name, type: type.enum }, atDefault);
      else checkFieldRules(rules, undefined, sink);
      return;
    }
    const read = this.value(json, type, path, inner);
    if (rules && read) checkFieldRules(rules, read, this.sink(path));
  }

  private repeatedField(type: ValueType, json: unknown, path: string, validate: boolean, rules: FieldRules | undefined): void {
    if (json !== undefined && !Array.isArray(json)) {
      this.report(path, `expected an array (repeated ${typeName(type)}), got ${describe(json)}`);
      return;
    }
    const items = (json ?? []).map((item: unknown, index: number) => {
      const itemPath = childPath(path, index);
      if (item === null && !isValueType(type)) {
        this.report(itemPath, `null is not allowed as an item of a repeated ${typeName(type)}`);
        return { value: undefined, sink: this.sink(itemPath) };
      }
      return { value: this.value(item, type, itemPath, validate), sink: this.sink(itemPath) };
    });
    if (rules) checkRepeatedRules(rules, items, this.sink(path));
  }

  private mapField(keyType: string, type: ValueType, json: unknown, path: string, validate: boolean, rules: FieldRules | undefined): void {
    if (json !== undefined && !isObject(json)) {
      this.report(path, `expected an object (map<${keyType}, ${typeName(type)}>), got ${describe(json)}`);
      return;
    }
    const entries = Object.entries(json ?? {}).map(([key, value]) => {
      const entryPath = childPath(path, key);
      const keyRead = mapKey(keyType, key);
      if (!keyRead.ok) this.report(entryPath, `map key ${JSON.stringify(key)}: ${keyRead.problem}`);
      const keyValue = keyRead.ok ? scalarRuleValue(keyType, keyRead.value) : undefined;
      if (value === null && !isValueType(type)) {
        this.report(entryPath, `null is not allowed as a map value of ${typeName(type)}`);
        return { key: keyValue, value: undefined, sink: this.sink(entryPath) };
      }
      return { key: keyValue, value: this.value(value, type, entryPath, validate), sink: this.sink(entryPath) };
    });
    if (rules) checkMapRules(rules, entries, this.sink(path));
  }

  private any(json: unknown, path: string, validate: boolean): RuleValue | undefined {
    if (!isObject(json)) {
      this.report(path, `expected an object with "@type" (google.protobuf.Any), got ${describe(json)}`);
      return undefined;
    }
    if (Object.keys(json).length === 0) return { kind: 'any', typeUrl: '' }; // an empty Any is valid JSON
    const url = json['@type'];
    const urlPath = childPath(path, '@type');
    if (typeof url !== 'string') {
      this.report(urlPath, `an Any needs "@type": "${AnyTypeUrlPrefix}<message full name>"${url === undefined ? '' : `, got ${describe(url)}`}`);
      return undefined;
    }
    if (!url.startsWith(AnyTypeUrlPrefix)) {
      this.report(urlPath, `invalid type URL ${JSON.stringify(url)}: it must be ${AnyTypeUrlPrefix}<message full name>`);
      return undefined;
    }
    const typeName = url.slice(AnyTypeUrlPrefix.length);
    if (!Object.hasOwn(this.schema.messages, typeName)) {
      const problem = unknownTypeProblem(typeName, this.schema);
      if (problem === null) {
        this.uncheckedTypes.add(typeName);
        return { kind: 'any', typeUrl: url };
      }
      this.report(urlPath, problem);
      return undefined;
    }
    const type = this.messageType(typeName);
    if (type.message.wellKnown) { // JSON other than an object of fields: the schema marks these (the generator's one list)
      for (const key of Object.keys(json)) if (key !== '@type' && key !== 'value') this.report(childPath(path, key), `unknown field "${key}": an Any of ${typeName} has only "@type" and "value"`);
      if (json.value !== undefined && json.value !== null) this.value(json.value, type, childPath(path, 'value'), validate);
    } else {
      this.message(json, type, path, validate, ['@type']);
    }
    return { kind: 'any', typeUrl: url };
  }
}

function scalarRuleValue(kind: string, value: ScalarValue): RuleValue {
  if (isIntegerKind(kind)) return { kind: 'integer', value: value as bigint };
  if (kind === 'double' || kind === 'float') return { kind: 'float', value: value as number };
  if (kind === 'bool') return { kind: 'bool', value: value as boolean };
  if (kind === 'bytes') return { kind: 'bytes', value: value as Uint8Array };
  return { kind: 'string', value: value as string };
}

/** Map keys are JSON strings holding the key type: decimal integers, "true"/"false", any string. */
function mapKey(kind: string, key: string): Read<ScalarValue> {
  if (kind === 'bool') return key === 'true' || key === 'false' ? { ok: true, value: key === 'true' } : { ok: false, problem: 'expected "true" or "false"' };
  return readScalar(kind, key);
}

/** google.protobuf.Value takes null as a value (NullValue); every other type reads null as unset. */
function isValueType(type: ValueType): boolean {
  return typeof type !== 'string' && (type.name === 'google.protobuf.Value' || type.name === 'google.protobuf.NullValue');
}

function typeName(type: ValueType): string {
  return typeof type === 'string' ? type : type.name;
}

function isObject(json: unknown): json is Record<string, unknown> {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}

function describe(json: unknown): string {
  if (Array.isArray(json)) return 'an array';
  if (json === null) return 'null';
  if (typeof json === 'object') return 'an object';
  return typeof json === 'string' ? `the string ${JSON.stringify(json)}` : `${typeof json} ${String(json)}`;
}

const knownPackages = new WeakMap<EnvoySchema, ReadonlySet<string>>();

/**
 * Why an `@type` the schema lacks is refused, or null to let it through unchecked. Refused: one
 * or two edits away from a known type (a misspelling), or in a package the schema holds
 * completely (then the name is wrong). Let through: a package the vendored protos
 * could not load, or one the schema does not know at all (an extension newer than the vendored
 * API, or a contrib one), so that a valid override is never refused.
 */
function unknownTypeProblem(typeName: string, schema: EnvoySchema): string | null {
  const pkg = packageOf(typeName);
  let packages = knownPackages.get(schema);
  if (!packages) {
    packages = new Set(Object.keys(schema.messages).map(packageOf));
    knownPackages.set(schema, packages);
  }
  const unknown = `unknown type ${typeName}: no such message in Envoy's API schema (Envoy: "Invalid type URL, unknown type")`;
  const nearest = Object.keys(schema.messages)
    .filter((name) => Math.abs(name.length - typeName.length) <= 2)
    .map((name) => ({ name, distance: editDistance(typeName, name) }))
    .sort((a, b) => a.distance - b.distance)[0];
  if (nearest && nearest.distance <= 2) return `${unknown} (did you mean ${nearest.name}?)`;
  if (schema.uncheckedPackages.includes(pkg)) return null;
  return packages.has(pkg) ? unknown : null;
}

/** ` (did you mean "stat_prefix"?)` for a key one or two edits away from a field name. */
function suggestion(key: string, message: SchemaMessage): string {
  const names = message.fields.flatMap((f) => [f.name, f.json ?? f.name]);
  const best = names.map((name) => ({ name, distance: editDistance(key, name) })).sort((a, b) => a.distance - b.distance)[0];
  return best && best.distance <= 2 ? ` (did you mean "${best.name}"?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}
