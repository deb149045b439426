/**
 * Checks an Envoy bootstrap document the way Envoy loads one, short of running Envoy: as JSON of
 * envoy.config.bootstrap.v3.Bootstrap in Envoy's own v3 protos (from @grpc/grpc-js-xds), with
 * unknown fields refused, every typed_config's @type resolved and checked, and the
 * protoc-gen-validate rules Envoy runs at load. The checker is the injector's own
 * (injector/envoy/proto-json-check.ts); the schema it walks is generated here, in memory, from the
 * installed protos by the build's generator (scripts/generate-envoy-schema.ts), so the tests do
 * not depend on a built dist/.
 *
 * What it cannot prove: that Envoy starts with it (ports free, addresses bindable, IPv6 on,
 * extensions compiled into the image, listener/cluster semantics checked in C++), nor that the
 * protos match the proxy image's Envoy version exactly.
 */

import { EnvoyBootstrapType, type EnvoySchema } from '../../injector/envoy/envoy-schema.js';
import { checkProtoJson, type ProtoJsonReport } from '../../injector/envoy/proto-json-check.js';
import { generateEnvoySchema } from '../../scripts/generate-envoy-schema.js';

export { EnvoyBootstrapType };

let shared: EnvoySchema | undefined;

/** One generated schema per test process (~0.3 s to read Envoy's protos). */
export function envoySchemaFromProtos(): EnvoySchema {
  shared ??= generateEnvoySchema();
  return shared;
}

export function checkEnvoyBootstrap(bootstrap: unknown): ProtoJsonReport {
  return checkProtoJson(bootstrap, envoySchemaFromProtos(), EnvoyBootstrapType);
}
