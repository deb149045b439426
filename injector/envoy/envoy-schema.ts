/**
 * The compact Envoy API schema: our own small JSON format, generated at build time from Envoy's
 * v3 protos (scripts/generate-envoy-schema.ts, the only code that reads .proto files) and written
 * to dist/envoy-schema.json next to the bundle. The runtime checker (proto-json-check.ts) walks
 * JSON against it; nothing at runtime needs protobufjs or the protos.
 *
 * Per message: its fields in declaration order (proto name, JSON name when it differs, type,
 * repeated or map, oneof membership, proto3 `optional`, the `(validate.rules)` options as written,
 * deprecation marks) and its real oneofs (with `(validate.required)`). Well-known types whose JSON
 * is not an object of fields (Duration, Struct, wrappers, Any...) are marked `wellKnown` and listed
 * without fields: their JSON forms live in proto-json-values.ts. Per enum: its values by name.
 */

export const EnvoySchemaFormat = 'outrigger-envoy-schema/1';
export const EnvoySchemaFileName = 'envoy-schema.json';
export const EnvoyBootstrapType = 'envoy.config.bootstrap.v3.Bootstrap';

/** One `(validate.rules)` FieldRules object, e.g. `{ uint32: { lte: 65535 } }`. */
export type FieldRules = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

export interface SchemaField {
  /** The proto field name (`stat_prefix`). */
  readonly name: string;
  /** The JSON name, only when it differs from `name` (`statPrefix`). */
  readonly json?: string;
  /** A scalar kind (`uint32`, `string`...) or the full name of a message or enum. */
  readonly type: string;
  readonly repeated?: true;
  /** For a map field: the key's scalar kind (`type` is then the value type). */
  readonly map?: string;
  /** The real oneof this field belongs to. */
  readonly oneof?: string;
  /** A proto3 `optional` field (has presence, so PGV checks it only when set). */
  readonly optional?: true;
  readonly rules?: FieldRules;
  readonly deprecated?: true;
  /** `(envoy.annotations.disallowed_by_default)`: Envoy refuses it unless runtime-enabled. */
  readonly disallowed?: true;
}

export interface SchemaOneof {
  readonly name: string;
  /** `option (validate.required) = true`: one member must be set. */
  readonly required?: true;
}

export interface SchemaMessage {
  /** A well-known type with its own JSON form; `fields` is then empty. */
  readonly wellKnown?: true;
  readonly fields: readonly SchemaField[];
  readonly oneofs?: readonly SchemaOneof[];
}

export interface SchemaEnum {
  /** Value names in declaration order, with their numbers. */
  readonly values: Readonly<Record<string, number>>;
  readonly deprecated?: readonly string[];
  /** `(envoy.annotations.disallowed_by_default_enum)` values. */
  readonly disallowed?: readonly string[];
}

export interface EnvoySchema {
  readonly format: typeof EnvoySchemaFormat;
  /** Where the protos came from (`@grpc/grpc-js-xds 1.14.1 deps/`). */
  readonly protos: string;
  /** Proto files of the covered packages left out because an import they need is not vendored. */
  readonly skippedProtoFiles: readonly string[];
  /** The packages those files declare: an `@type` in one of them cannot be checked, so it is let through. */
  readonly uncheckedPackages: readonly string[];
  readonly messages: Readonly<Record<string, SchemaMessage>>;
  readonly enums: Readonly<Record<string, SchemaEnum>>;
}

const fieldIndexes = new WeakMap<SchemaMessage, ReadonlyMap<string, SchemaField>>();

/** The field a JSON key names, by proto name or JSON name. */
export function fieldByKey(message: SchemaMessage, key: string): SchemaField | undefined {
  let index = fieldIndexes.get(message);
  if (!index) {
    const map = new Map<string, SchemaField>();
    for (const field of message.fields) {
      map.set(field.name, field);
      map.set(field.json ?? field.name, field);
    }
    fieldIndexes.set(message, (index = map));
  }
  return index.get(key);
}

const enumNames = new WeakMap<SchemaEnum, ReadonlyMap<number, string>>();

/** The first declared name of an enum number (aliases share numbers), or undefined. */
export function enumValueName(type: SchemaEnum, value: number): string | undefined {
  let names = enumNames.get(type);
  if (!names) {
    const map = new Map<number, string>();
    for (const [name, number] of Object.entries(type.values)) if (!map.has(number)) map.set(number, name);
    enumNames.set(type, (names = map));
  }
  return names.get(value);
}

/** A full name's last part (`Cluster.DiscoveryType` -> `DiscoveryType`). */
export function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf('.') + 1);
}

/** The proto package of a message's full name: the segments before the first capitalised one. */
export function packageOf(typeName: string): string {
  const segments = typeName.split('.');
  const first = segments.findIndex((segment) => /^[A-Z]/.test(segment));
  return segments.slice(0, first === -1 ? segments.length - 1 : first).join('.');
}
