/**
 * Envoy's v3 API protos, for reflection in tests: the copies the npm package @grpc/grpc-js-xds
 * ships under deps/ (envoy-api, xds for udpa/xds annotations, googleapis, protoc-gen-validate),
 * read with protobufjs. Nothing is copied into this repository.
 *
 * Types are loaded on demand by package, the way an Any's `@type` names them: Envoy's API keeps
 * each package in the directory its name spells (`envoy.extensions.filters.network.tcp_proxy.v3`
 * lives in `envoy/extensions/filters/network/tcp_proxy/v3/`), so finding a type means loading the
 * `.proto` files of that directory (and, through protobufjs, everything they import). The
 * google.protobuf well-known types come from protobufjs itself (its bundled any, duration, struct,
 * wrappers... and its descriptor.proto, which validate.proto extends).
 *
 * Limits: these are the protos of the Envoy API commit grpc-js-xds vendored, not necessarily the
 * proxy image's Envoy (a field newer than them reads as unknown, one removed since still passes);
 * extensions grpc-js-xds does not ship (Envoy's contrib/) read as unknown types.
 */

import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const xdsPackage = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const protobufjsPackage = path.dirname(require.resolve('protobufjs/package.json'));

/** Import roots, in the order protoc would get them as `-I` flags. */
export const EnvoyProtoIncludePaths: readonly string[] = [
  ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) => path.join(xdsPackage, 'deps', dir)),
  protobufjsPackage, // google/protobuf/descriptor.proto
];

export type ProtoTypeLookup = (fullName: string) => protobuf.Type | protobuf.Enum | undefined;

export interface EnvoyProtos {
  /** Finds a message or enum by its full name (no leading dot), loading its package on first use. */
  readonly lookup: ProtoTypeLookup;
  /** The message type, or a thrown error naming it: for names the caller knows exist. */
  readonly messageType: (fullName: string) => protobuf.Type;
}

let shared: EnvoyProtos | undefined;

/** One protobufjs Root for the whole test process: Envoy's protos take ~0.3 s to parse. */
export function envoyProtos(): EnvoyProtos {
  shared ??= openEnvoyProtos();
  return shared;
}

function openEnvoyProtos(): EnvoyProtos {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => EnvoyProtoIncludePaths.map((dir) => path.join(dir, target)).find((file) => existsSync(file)) ?? target;
  const loadedDirs = new Set<string>();

  const find = (fullName: string): protobuf.Type | protobuf.Enum | undefined => {
    const found = root.lookup(fullName, [protobuf.Type, protobuf.Enum]);
    return found instanceof protobuf.Type || found instanceof protobuf.Enum ? found : undefined;
  };

  const lookup = (fullName: string): protobuf.Type | protobuf.Enum | undefined => {
    if (!/^\w+(\.\w+)+$/.test(fullName)) return undefined;
    const known = find(fullName);
    if (known) return known;
    // Package directory: the longest prefix of the name that is a directory (nested types add parts).
    const parts = fullName.split('.');
    for (let n = parts.length - 1; n > 0; n--) {
      const relative = parts.slice(0, n).join('/');
      const dir = EnvoyProtoIncludePaths.map((d) => path.join(d, relative)).find((d) => existsSync(d));
      if (!dir) continue;
      if (loadedDirs.has(dir)) return undefined;
      loadedDirs.add(dir);
      const files = readdirSync(dir).filter((f) => f.endsWith('.proto')).map((f) => path.join(relative, f));
      if (files.length === 0) return undefined;
      root.loadSync(files, { keepCase: true });
      root.resolveAll();
      return find(fullName);
    }
    return undefined;
  };

  const messageType = (fullName: string): protobuf.Type => {
    const type = lookup(fullName);
    if (!(type instanceof protobuf.Type)) throw new Error(`no message type ${fullName} in Envoy's protos from @grpc/grpc-js-xds`);
    return type;
  };

  return { lookup, messageType };
}
