/**
 * Generates the compact Envoy API schema (format: injector/envoy/envoy-schema.ts) from Envoy's v3
 * protos as the devDependency @grpc/grpc-js-xds ships them under deps/ (envoy-api, xds for
 * udpa/xds, googleapis, protoc-gen-validate), read with protobufjs; the google.protobuf
 * well-known types come from protobufjs itself. The only code in the project that reads .proto
 * files: `npm run build` writes its output to dist/envoy-schema.json, and the tests generate the
 * same schema in memory (test/helpers/envoy-bootstrap-check.ts).
 *
 * Covered: envoy.config.bootstrap.v3.Bootstrap and every message in the envoy.extensions.* and
 * envoy.config.* packages (any of them may be a typed_config's `@type`, which no static walk can
 * follow), xds/udpa TypedStruct, and every message and enum those reach through their fields.
 * Proto files whose imports grpc-js-xds does not vendor (the removed v2 API, OpenCensus,
 * OpenTelemetry) cannot be read and are listed in the schema's `skippedProtoFiles`, their packages in
 * `uncheckedPackages` (an `@type` there is let through unchecked rather than wrongly refused).
 *
 * Deterministic: messages and enums sorted by name, fields and enum values in declaration order,
 * so the same protos always give the same bytes. Plain TypeScript with erasable syntax only, so
 * scripts/build.mjs imports it directly.
 */

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import type { EnvoySchema, FieldRules, SchemaEnum, SchemaField, SchemaMessage, SchemaOneof } from '../injector/envoy/envoy-schema.js';

const require = createRequire(import.meta.url);
const xdsPackage = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const protobufjsPackage = path.dirname(require.resolve('protobufjs/package.json'));

/** Import roots, in the order protoc would get them as `-I` flags. */
const IncludePaths: readonly string[] = [
  ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) => path.join(xdsPackage, 'deps', dir)),
  protobufjsPackage, // google/protobuf/descriptor.proto, which validate.proto extends
];

/** Directories (under envoy-api) whose every message is a possible typed_config. */
const CoveredDirectories = ['envoy/config', 'envoy/extensions'];
const CoveredPackages = ['envoy.config.', 'envoy.extensions.'];
const ExtraRootFiles = ['xds/type/v3/typed_struct.proto', 'udpa/type/v1/typed_struct.proto'];
const ExtraRootTypes = ['envoy.config.bootstrap.v3.Bootstrap', 'xds.type.v3.TypedStruct', 'udpa.type.v1.TypedStruct'];

/**
 * Well-known types written in JSON as something other than an object of their fields: the one list;
 * the schema marks them `wellKnown` and the checker reads them by that mark.
 */
const WellKnownJsonTypes = new Set([
  'google.protobuf.Any',
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.FieldMask',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
  ...['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map((kind) => `google.protobuf.${kind}Value`),
]);

const findFile = (relative: string): string | undefined => IncludePaths.map((dir) => path.join(dir, relative)).find((file) => existsSync(file));
/** protobufjs carries google/protobuf/{any,duration,struct,wrappers...}.proto itself. */
const isBundledByProtobufjs = (relative: string): boolean => (protobuf.common as unknown as { get(file: string): unknown }).get(relative) != null;

/** The `package` a proto file declares (read as text: the file itself cannot be loaded). */
function declaredPackage(relative: string): string {
  const text = readFileSync(findFile(relative) ?? relative, 'utf8');
  const declared = /^package\s+([\w.]+)\s*;/m.exec(text)?.[1];
  if (!declared) throw new Error(`${relative} declares no package`);
  return declared;
}

export function generateEnvoySchema(): EnvoySchema {
  const candidates = CoveredDirectories.flatMap((dir) => protoFilesUnder(IncludePaths[0]!, dir));
  const readable = new Map<string, boolean>();
  const loadable = candidates.filter((file) => importsResolve(file, readable));
  const skipped = candidates.filter((file) => !loadable.includes(file));

  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => findFile(target) ?? target;
  root.loadSync([...loadable, ...ExtraRootFiles], { keepCase: true });
  root.resolveAll();

  const roots: protobuf.Type[] = [];
  collectTypes(root, (type) => {
    if (CoveredPackages.some((prefix) => fullName(type).startsWith(prefix))) roots.push(type);
  });
  for (const name of ExtraRootTypes) roots.push(root.lookupType(name));

  const messages = new Map<string, SchemaMessage>();
  const enums = new Map<string, SchemaEnum>();
  const queue = [...roots];
  while (queue.length > 0) {
    const type = queue.pop()!;
    const name = fullName(type);
    if (messages.has(name)) continue;
    if (WellKnownJsonTypes.has(name)) {
      messages.set(name, { wellKnown: true, fields: [] });
      continue;
    }
    messages.set(name, schemaMessage(type));
    for (const field of type.fieldsArray) {
      const resolved = field.resolvedType;
      if (resolved instanceof protobuf.Type) queue.push(resolved);
      else if (resolved instanceof protobuf.Enum && !enums.has(fullName(resolved))) enums.set(fullName(resolved), schemaEnum(resolved));
    }
  }

  const version = (JSON.parse(readFileSync(path.join(xdsPackage, 'package.json'), 'utf8')) as { version: string }).version;
  return {
    format: 'outrigger-envoy-schema/1',
    protos: `@grpc/grpc-js-xds ${version} deps/`,
    skippedProtoFiles: skipped.sort(),
    uncheckedPackages: [...new Set(skipped.map(declaredPackage))].sort(),
    messages: sortedRecord(messages),
    enums: sortedRecord(enums),
  };
}

/** The schema as file text: one message or enum per line, so a diff shows what changed. */
export function renderEnvoySchema(schema: EnvoySchema): string {
  const block = (record: Readonly<Record<string, unknown>>): string =>
    `{\n${Object.entries(record)
      .map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`)
      .join(',\n')}\n}`;
  return `{"format":${JSON.stringify(schema.format)},"protos":${JSON.stringify(schema.protos)},"skippedProtoFiles":${JSON.stringify(schema.skippedProtoFiles)},"uncheckedPackages":${JSON.stringify(schema.uncheckedPackages)},\n"messages":${block(schema.messages)},\n"enums":${block(schema.enums)}}\n`;
}

function schemaMessage(type: protobuf.Type): SchemaMessage {
  const fields = type.fieldsArray.map(schemaField);
  const oneofs: SchemaOneof[] = type.oneofsArray.filter((oneof) => !isProto3Optional(oneof)).map((oneof) => ({ name: oneof.name, ...(oneof.options?.['(validate.required)'] === true ? { required: true as const } : {}) }));
  return { fields, ...(oneofs.length > 0 ? { oneofs } : {}) };
}

function schemaField(field: protobuf.Field): SchemaField {
  const resolved = field.resolvedType;
  const type = resolved instanceof protobuf.Type || resolved instanceof protobuf.Enum ? fullName(resolved) : field.type;
  const oneof = field.partOf;
  const optional = oneof !== null && isProto3Optional(oneof);
  const rules = fieldRules(field);
  return {
    name: field.name,
    ...(field.jsonName !== undefined && field.jsonName !== field.name ? { json: field.jsonName } : {}),
    type,
    ...(field instanceof protobuf.MapField ? { map: field.keyType } : field.repeated ? { repeated: true as const } : {}),
    ...(oneof !== null && !optional ? { oneof: oneof.name } : {}),
    ...(optional ? { optional: true as const } : {}),
    ...(rules ? { rules } : {}),
    ...(field.options?.['(envoy.annotations.disallowed_by_default)'] === true ? { disallowed: true as const } : field.options?.deprecated === true ? { deprecated: true as const } : {}),
  };
}

function schemaEnum(type: protobuf.Enum): SchemaEnum {
  const names = Object.keys(type.values);
  const withOption = (option: string): string[] => names.filter((name) => type.valuesOptions?.[name]?.[option] === true);
  const disallowed = withOption('(envoy.annotations.disallowed_by_default_enum)');
  const deprecated = withOption('deprecated').filter((name) => !disallowed.includes(name));
  return { values: { ...type.values }, ...(deprecated.length > 0 ? { deprecated } : {}), ...(disallowed.length > 0 ? { disallowed } : {}) };
}

/** The field's `(validate.rules)`, merged when the .proto sets them in several options. */
function fieldRules(field: protobuf.FieldBase): FieldRules | undefined {
  let merged: Record<string, unknown> | undefined;
  for (const option of field.parsedOptions ?? []) {
    const rules = (option as Record<string, unknown>)['(validate.rules)'];
    if (isRecord(rules)) merged = deepMerge(merged ?? {}, rules);
  }
  return merged as FieldRules | undefined;
}

function protoFilesUnder(includePath: string, relative: string): string[] {
  return readdirSync(path.join(includePath, relative))
    .sort()
    .flatMap((entry) => {
      const child = path.posix.join(relative, entry);
      if (statSync(path.join(includePath, child)).isDirectory()) return protoFilesUnder(includePath, child);
      return entry.endsWith('.proto') ? [child] : [];
    });
}

/** Whether a proto file and everything it imports, transitively, can be read. */
function importsResolve(relative: string, known: Map<string, boolean>): boolean {
  const cached = known.get(relative);
  if (cached !== undefined) return cached;
  if (isBundledByProtobufjs(relative)) return true;
  known.set(relative, true); // an import cycle resolves if the rest does
  const file = findFile(relative);
  let ok = file !== undefined;
  if (file) for (const match of readFileSync(file, 'utf8').matchAll(/^import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)) ok = importsResolve(match[1]!, known) && ok;
  known.set(relative, ok);
  return ok;
}

function collectTypes(namespace: protobuf.NamespaceBase, visit: (type: protobuf.Type) => void): void {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) visit(nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) collectTypes(nested, visit);
  }
}

function isProto3Optional(oneof: protobuf.OneOf): boolean {
  return oneof.fieldsArray.length === 1 && oneof.fieldsArray[0]?.options?.proto3_optional === true;
}

function fullName(type: protobuf.ReflectionObject): string {
  return type.fullName.replace(/^\./, '');
}

function sortedRecord<T>(map: ReadonlyMap<string, T>): Record<string, T> {
  return Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isRecord(current) && isRecord(value) ? deepMerge(current, value) : value;
  }
  return out;
}
