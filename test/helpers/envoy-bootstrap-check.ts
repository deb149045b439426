/**
 * Checks an Envoy bootstrap document the way Envoy loads one, short of running Envoy: as JSON of
 * envoy.config.bootstrap.v3.Bootstrap in Envoy's own v3 protos (from @grpc/grpc-js-xds), with
 * unknown fields refused, every typed_config's @type resolved and checked, and the
 * protoc-gen-validate rules Envoy runs at load. See proto-json-check.ts for what that covers.
 *
 * What it cannot prove: that Envoy starts with it (ports free, addresses bindable, IPv6 on,
 * extensions compiled into the image, listener/cluster semantics checked in C++), nor that the
 * protos match the proxy image's Envoy version exactly.
 */

import { envoyProtos } from './envoy-protos.js';
import { checkProtoJson, type ProtoJsonReport } from './proto-json-check.js';

export const EnvoyBootstrapType = 'envoy.config.bootstrap.v3.Bootstrap';

export function checkEnvoyBootstrap(bootstrap: unknown): ProtoJsonReport {
  const protos = envoyProtos();
  return checkProtoJson(bootstrap, protos.messageType(EnvoyBootstrapType), protos.lookup);
}
