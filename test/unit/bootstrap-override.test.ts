// proxy.bootstrapOverride is checked at configuration load, merged into the generated bootstrap
// for both interception modes, against Envoy's v3 API as the build's schema (dist/envoy-schema.json)
// describes it: real overrides (a DNS listener with dns_filter for DNS capture, a stats sink, an
// admin tweak) pass; misspelled fields, wrong enums, unknown @types and wrong scalar types are
// refused with their path under .proxy.bootstrapOverride, together with every other bad field.
// Also: the built schema is exactly what the generator makes from the installed protos, and a
// missing schema is an error that says how to make it.
import { readFileSync } from 'node:fs';
import { stringify as toYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, isOutriggerError, type FieldProblem } from '../../common/errors.js';
import { DefaultProxyPorts, parseInjectorConfig } from '../../injector/config/injector-config.js';
import { buildEnvoyBootstrap } from '../../injector/envoy/envoy-bootstrap.js';
import { parseJsonPath } from '../../injector/envoy/check-bootstrap-override.js';
import { envoySchemaPath, loadEnvoySchema } from '../../injector/envoy/load-envoy-schema.js';
import { renderEnvoySchema } from '../../scripts/generate-envoy-schema.js';
import { envoySchemaFromProtos } from '../helpers/envoy-bootstrap-check.js';

type Obj = Record<string, any>;

const configWith = (bootstrapOverride: unknown, extra: Obj = {}): string => toYaml({ ...extra, proxy: { ...(extra.proxy ?? {}), bootstrapOverride } });

function problemsOf(text: string): FieldProblem[] {
  try {
    parseInjectorConfig(text, 'config.yaml');
  } catch (error) {
    if (isOutriggerError(error) && error.code === ErrorCodes.InvalidInput) return [...error.problems];
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

const generatedListeners = (): Obj[] => (buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: 'REDIRECT' }) as Obj).static_resources.listeners;

/** A UDP listener on 15053 answering DNS with Envoy's dns_filter (what DNS capture needs). */
const dnsListener = (): Obj => ({
  name: 'dns',
  address: { socket_address: { protocol: 'UDP', address: '127.0.0.1', port_value: 15053 } },
  udp_listener_config: {},
  listener_filters: [
    {
      name: 'envoy.filters.udp.dns_filter',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig',
        stat_prefix: 'dns',
        server_config: { inline_dns_table: { virtual_domains: [{ name: 'db.mesh.local', endpoint: { address_list: { address: ['10.0.0.7'] } } }] } },
        client_config: { resolver_timeout: '5s', max_pending_lookups: 256 },
      },
    },
  ],
});

const statsdSink = (): Obj => ({
  name: 'envoy.stat_sinks.statsd',
  typed_config: { '@type': 'type.googleapis.com/envoy.config.metrics.v3.StatsdSink', address: { socket_address: { protocol: 'UDP', address: '127.0.0.1', port_value: 8125 } }, prefix: 'mesh' },
});

const adminTweak = (): Obj => ({
  ignore_global_conn_limit: true,
  access_log: [{ name: 'envoy.access_loggers.stdout', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog' } }],
});

describe('proxy.bootstrapOverride checked against Envoy v3 at load', () => {
  it('accepts a DNS listener with dns_filter, which DNS capture needs', () => {
    const override = { static_resources: { listeners: [...generatedListeners(), dnsListener()] } };
    const config = parseInjectorConfig(configWith(override, { capture: { redirectDns: true } }), 'config.yaml');
    expect(config.proxy.bootstrapOverride).toEqual(override);
    expect(config.captureBaseline.redirectDns).toBe('true');
  });

  it('accepts the DNS listener alone: listeners merge by name, so the generated ones stay as each mode needs them', () => {
    const override = { static_resources: { listeners: [dnsListener()] } };
    expect(parseInjectorConfig(configWith(override, { capture: { redirectDns: true } }), 'config.yaml').proxy.bootstrapOverride).toEqual(override);
  });

  it("names the override's own index in a list merged by name", () => {
    // Entry 0 merges into the generated outbound listener; entry 1 is a new listener.
    const listeners = [{ name: 'outbound_capture', per_connection_buffer_limit_byte: 1 }, { ...dnsListener(), udp_listener_confg: {} }];
    expect(problemsOf(configWith({ static_resources: { listeners } })).map((p) => p.source)).toEqual([
      'config.yaml .proxy.bootstrapOverride.static_resources.listeners[0].per_connection_buffer_limit_byte',
      'config.yaml .proxy.bootstrapOverride.static_resources.listeners[1].udp_listener_confg',
    ]);
  });

  it('accepts an extra stats sink and an admin tweak', () => {
    const config = parseInjectorConfig(configWith({ stats_sinks: [statsdSink()], admin: adminTweak(), stats_flush_interval: '5s' }), 'config.yaml');
    expect(config.proxy.bootstrapOverride?.stats_sinks).toEqual([statsdSink()]);
  });

  it('refuses a misspelled field, naming its path and the likely field', () => {
    const sink = statsdSink();
    sink.typed_config.prefx = sink.typed_config.prefix;
    delete sink.typed_config.prefix;
    expect(problemsOf(configWith({ stats_sinks: [sink], admin: { acces_log: [] } }))).toEqual([
      { source: 'config.yaml .proxy.bootstrapOverride.stats_sinks[0].typed_config.prefx', value: 'mesh', reason: 'unknown field "prefx" in envoy.config.metrics.v3.StatsdSink (did you mean "prefix"?)' },
      { source: 'config.yaml .proxy.bootstrapOverride.admin.acces_log', value: '[]', reason: 'unknown field "acces_log" in envoy.config.bootstrap.v3.Admin (did you mean "access_log"?)' },
    ]);
  });

  it('refuses a value outside an enum', () => {
    const listener = dnsListener();
    listener.address.socket_address.protocol = 'UPD';
    const [problem, ...rest] = problemsOf(configWith({ static_resources: { listeners: [listener] } }));
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ source: 'config.yaml .proxy.bootstrapOverride.static_resources.listeners[0].address.socket_address.protocol', value: 'UPD' });
    expect(problem?.reason).toMatch(/^"UPD" is not a value of enum envoy\.config\.core\.v3\.SocketAddress\.Protocol \(TCP, UDP\)$/);
  });

  it('refuses an unknown @type', () => {
    const sink = statsdSink();
    sink.typed_config['@type'] = 'type.googleapis.com/envoy.config.metrics.v3.StatsdSinc';
    expect(problemsOf(configWith({ stats_sinks: [sink] }))).toEqual([
      {
        source: 'config.yaml .proxy.bootstrapOverride.stats_sinks[0].typed_config["@type"]',
        value: 'type.googleapis.com/envoy.config.metrics.v3.StatsdSinc',
        reason: expect.stringContaining('unknown type envoy.config.metrics.v3.StatsdSinc: no such message in Envoy\'s API schema'),
      },
    ]);
  });

  it('refuses a type that is not in its known package, or one misspelled in its package, naming the likely one', () => {
    const wrongName = statsdSink();
    wrongName.typed_config['@type'] = 'type.googleapis.com/envoy.config.metrics.v3.StatsSinkOfMine';
    expect(problemsOf(configWith({ stats_sinks: [wrongName] }))[0]?.reason).toMatch(/^unknown type envoy\.config\.metrics\.v3\.StatsSinkOfMine: no such message/);
    const wrongPackage = statsdSink();
    wrongPackage.typed_config['@type'] = 'type.googleapis.com/envoy.config.metrcs.v3.StatsdSink';
    expect(problemsOf(configWith({ stats_sinks: [wrongPackage] }))[0]?.reason).toContain('(did you mean envoy.config.metrics.v3.StatsdSink?)');
    // Also in a package only partly described (envoy.config.trace.v3 lost opencensus.proto): a typo is still a typo.
    const tracing = { http: { name: 'envoy.tracers.zipkin', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfg' } } };
    expect(problemsOf(configWith({ tracing }))[0]?.reason).toContain('(did you mean envoy.config.trace.v3.ZipkinConfig?)');
  });

  it('lets through, unchecked, a type its vendored protos cannot describe rather than refuse a valid override', () => {
    // The OpenTelemetry access logger: its proto imports OpenTelemetry's, which grpc-js-xds does not vendor.
    const otel = {
      access_log: [{
        name: 'envoy.access_loggers.open_telemetry',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig', common_config: { log_name: 'mesh' } },
      }],
    };
    expect(() => parseInjectorConfig(configWith({ admin: otel }), 'config.yaml')).not.toThrow();
    // A package the schema does not know at all (a newer or contrib extension), far from any known type.
    const contrib = statsdSink();
    contrib.typed_config = { '@type': 'type.googleapis.com/envoy.extensions.contrib.example.v3alpha.Sink', anything: 1 };
    expect(() => parseInjectorConfig(configWith({ stats_sinks: [contrib] }), 'config.yaml')).not.toThrow();
  });

  it('refuses wrong scalar types and broken rules, with every other bad field of the file', () => {
    const problems = problemsOf(configWith({ stats_flush_interval: 5, admin: { address: { socket_address: { port_value: 'admin' } } } }, { proxy: { uid: 'x' } }));
    expect(problems.map((p) => [p.source, p.reason])).toEqual([
      ['config.yaml .proxy.bootstrapOverride.stats_flush_interval', expect.stringContaining('expected a duration string such as "1.5s"')],
      ['config.yaml .proxy.bootstrapOverride.admin.address.socket_address.port_value', 'expected an integer (uint32), got the string "admin"'],
      ['config.yaml .proxy.uid', expect.any(String)],
    ]);
  });

  it('names a required field missing from what the override added, under the override', () => {
    const listener = dnsListener();
    delete listener.listener_filters[0].typed_config.stat_prefix;
    delete listener.listener_filters[0].typed_config.client_config.max_pending_lookups;
    const filter = '.proxy.bootstrapOverride.static_resources.listeners[0].listener_filters[0].typed_config';
    expect(problemsOf(configWith({ static_resources: { listeners: [listener] } }))).toEqual([
      { source: `config.yaml ${filter}.stat_prefix`, value: '', reason: 'not set, so it has the default value, and "" must be at least 1 character(s) long (string.min_len)' },
      { source: `config.yaml ${filter}.client_config.max_pending_lookups`, value: '', reason: 'not set, so it has the default value, and 0 must be at least 1 (uint64.gte)' },
    ]);
  });

  it('checks the merged bootstrap: a oneof member set over a generated one', () => {
    expect(problemsOf(configWith({ admin: { address: { socket_address: { named_port: 'admin' } } } }))).toEqual([
      {
        source: 'config.yaml .proxy.bootstrapOverride.admin.address.socket_address',
        value: '{"named_port":"admin"}',
        reason: 'oneof port_specifier of envoy.config.core.v3.SocketAddress has 2 members set (port_value, named_port); at most one may be',
      },
    ]);
  });

  it('reads the paths the checker writes', () => {
    expect(parseJsonPath('$.a.b_c[0]["@type"][12]')).toEqual(['a', 'b_c', 0, '@type', 12]);
    expect(parseJsonPath('$')).toEqual([]);
  });
});

describe('the built Envoy schema', () => {
  it('is what the generator makes from the installed protos (rebuild if this fails)', () => {
    expect(readFileSync(envoySchemaPath(), 'utf8')).toBe(renderEnvoySchema(envoySchemaFromProtos()));
  });

  it('is found beside the bundle chunk, or in the repository dist/ from source', () => {
    expect(envoySchemaPath('file:///opt/outrigger/dist/chunk-ABC.mjs')).toBe('/opt/outrigger/dist/envoy-schema.json');
    expect(envoySchemaPath('file:///repo/injector/envoy/load-envoy-schema.ts')).toBe('/repo/dist/envoy-schema.json');
  });

  it('when missing, fails the load with READ_FAILED saying to run npm run build', () => {
    expect(() => loadEnvoySchema('/nonexistent/envoy-schema.json')).toThrow(expect.objectContaining({ code: ErrorCodes.ReadFailed, message: expect.stringContaining('npm run build') }));
  });
});
