// The generated Envoy bootstrap against Envoy's real v3 API protos (from @grpc/grpc-js-xds): every
// variant the injector builds (REDIRECT, TPROXY and NONE, default, custom and random ports, overrides)
// and the exact --config-yaml text of every injected fixture pod, expanded as the kubelet does and
// parsed as YAML as Envoy does, must give no violation of the proto3 JSON mapping or of the PGV
// rules Envoy enforces at load. The second half proves the checker refuses what Envoy refuses,
// naming the JSON path. No Envoy binary runs here: see test/helpers/envoy-bootstrap-check.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DefaultInjectorConfig, DefaultProxyPorts, type InjectorConfig, parseInjectorConfig, type ProxyPorts } from '../../injector/config/injector-config.js';
import { buildEnvoyBootstrap, renderBootstrapArg } from '../../injector/envoy/envoy-bootstrap.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { InterceptionModes } from '../../capture/capture-config.js';
import { checkEnvoyBootstrap } from '../helpers/envoy-bootstrap-check.js';
import { describeViolations, type ProtoJsonReport } from '../../injector/envoy/proto-json-check.js';
import { checkFieldRules, type FieldRules, type RuleValue } from '../../injector/envoy/pgv-rules.js';
import { expandedBootstrapArg, expandKubeletVars, proxyBootstrap } from '../helpers/proxy-bootstrap-arg.js';

type Obj = Record<string, any>;

const CustomPorts: ProxyPorts = { outbound: 16001, inbound: 16006, admin: 16000, health: 16021, prometheus: 16090, status: 16020 };

/** No violation, no deprecated field (a later Envoy may drop it), no rule the checker skipped. */
function expectClean(report: ProtoJsonReport): void {
  expect(describeViolations(report.violations)).toBe('');
  expect(report.deprecated).toEqual([]);
  expect(report.uncheckedRules).toEqual([]);
}

describe('generated Envoy bootstrap against Envoy v3 protos', () => {
  for (const interceptionMode of [...InterceptionModes, 'NONE'] as const) {
    for (const [portsName, ports] of [
      ['default', DefaultProxyPorts],
      ['custom', CustomPorts],
    ] as const) {
      it(`${interceptionMode}, ${portsName} ports`, () => {
        expectClean(checkEnvoyBootstrap(buildEnvoyBootstrap({ ports, interceptionMode })));
      });
    }
  }

  it('with a configured override merged in', () => {
    const override = { node: { cluster: 'mesh', metadata: { team: 'a', labels: ['x', 1, null] } }, stats_flush_interval: '5s', layered_runtime: { layers: [{ name: 'static', static_layer: { 'overload.global_downstream_max_connections': 50000 } }] } };
    expectClean(checkEnvoyBootstrap(buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: 'TPROXY', override })));
  });

  it('for any valid set of ports', () => {
    const ports = fc.uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 6, maxLength: 6 }).map(([outbound, inbound, admin, health, prometheus, status]) => ({ outbound, inbound, admin, health, prometheus, status }) as ProxyPorts);
    fc.assert(
      fc.property(ports, fc.constantFrom(...InterceptionModes), (p, interceptionMode) => {
        const report = checkEnvoyBootstrap(buildEnvoyBootstrap({ ports: p, interceptionMode }));
        expect(describeViolations(report.violations)).toBe('');
      }),
      { numRuns: 50 },
    );
  });
});

describe('bootstrap text of injected fixture pods, as Envoy reads it', () => {
  const dir = fileURLToPath(new URL('../fixtures/injector/cases/', import.meta.url));
  const cases = readdirSync(dir).filter((f) => f.endsWith('.input.yaml')).map((f) => f.replace(/\.input\.yaml$/, '')).sort();
  const seen = { modes: new Set<string>(), ports: new Set<number>() };

  for (const name of cases) {
    const input = parseYaml(readFileSync(`${dir}${name}.input.yaml`, 'utf8')) as { namespace: string; config?: unknown; pod: unknown };
    const config: InjectorConfig = input.config === undefined ? DefaultInjectorConfig : parseInjectorConfig(toYaml(input.config), `${name} config`);
    const review = reviewPod({ pod: input.pod, namespace: input.namespace, config });
    if (review.kind !== 'inject') continue;

    it(name, () => {
      const spec = review.pod.spec as Obj;
      const proxy = [...(spec.initContainers ?? []), ...spec.containers].find((c: Obj) => c.name === config.containerNames.proxy) as Obj;
      const downwardApi = { 'metadata.name': 'web-7f9c', 'metadata.namespace': input.namespace, 'status.podIP': '198.18.0.10' };
      const text = expandedBootstrapArg(proxy, downwardApi);
      const bootstrap = proxyBootstrap(proxy, downwardApi) as Obj;
      expect(bootstrap, 'YAML and JSON read the argument alike').toEqual(JSON.parse(text));
      expect(bootstrap.node.id).toBe(`web-7f9c.${input.namespace}`);
      expectClean(checkEnvoyBootstrap(bootstrap));

      const inbound = (bootstrap.static_resources.listeners as Obj[]).find((l) => l.name === 'inbound_capture') as Obj | undefined;
      seen.modes.add(inbound === undefined ? 'NONE' : inbound.transparent === true ? 'TPROXY' : 'REDIRECT');
      if (inbound) seen.ports.add(inbound.address.socket_address.port_value as number);
    });
  }

  it('covered every interception mode (NONE: no capture listeners) and custom ports', () => {
    expect(seen.modes).toEqual(new Set([...InterceptionModes, 'NONE']));
    expect(seen.ports).toContain(DefaultProxyPorts.inbound);
    expect(seen.ports).toContain(CustomPorts.inbound);
  });
});

describe('the proto checker refuses what Envoy refuses', () => {
  const fresh = (): Obj => buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: 'REDIRECT' }) as Obj;
  const tcpProxy = (b: Obj, listener: number): Obj => b.static_resources.listeners[listener].filter_chains[0].filters[0].typed_config;
  const hcm = (b: Obj, listener: number): Obj => b.static_resources.listeners[listener].filter_chains[0].filters[0].typed_config;
  const outboundTcpProxy = '$.static_resources.listeners[0].filter_chains[0].filters[0].typed_config';

  function violationsOf(b: Obj): { path: string; message: string }[] {
    return [...checkEnvoyBootstrap(b).violations];
  }

  it('a misspelled field, naming the path and the likely field', () => {
    const b = fresh();
    tcpProxy(b, 0).stat_prefx = tcpProxy(b, 0).stat_prefix;
    delete tcpProxy(b, 0).stat_prefix;
    expect(violationsOf(b)).toContainEqual({ path: `${outboundTcpProxy}.stat_prefx`, message: expect.stringMatching(/unknown field "stat_prefx" in envoy\.extensions\.filters\.network\.tcp_proxy\.v3\.TcpProxy \(did you mean "stat_prefix"\?\)/) });
  });

  it('a value that is not in the enum', () => {
    const b = fresh();
    b.static_resources.clusters[0].type = 'ORIGINAL_DESTINATION';
    expect(violationsOf(b)).toEqual([{ path: '$.static_resources.clusters[0].type', message: expect.stringContaining('"ORIGINAL_DESTINATION" is not a value of enum envoy.config.cluster.v3.Cluster.DiscoveryType') }]);
  });

  it('wrong scalar types, numbers out of range and bad durations', () => {
    const b = fresh();
    b.static_resources.listeners[0].transparent = 'true';
    b.static_resources.listeners[0].address.socket_address.port_value = 15001.5;
    b.static_resources.listeners[1].address.socket_address.port_value = 70000;
    b.static_resources.listeners[1].additional_addresses[0].address.socket_address.port_value = -1;
    b.static_resources.clusters[0].connect_timeout = 10;
    b.static_resources.clusters[1].connect_timeout = '0s';
    b.static_resources.clusters[2].name = 42;
    const byPath = Object.fromEntries(violationsOf(b).map((v) => [v.path, v.message]));
    expect(byPath).toEqual({
      '$.static_resources.listeners[0].transparent': expect.stringContaining('expected true or false (bool), got "true"'),
      '$.static_resources.listeners[0].address.socket_address.port_value': expect.stringContaining('expected an integer (uint32), got 15001.5'),
      '$.static_resources.listeners[1].address.socket_address.port_value': '70000 must be at most 65535 (uint32.lte)',
      '$.static_resources.listeners[1].additional_addresses[0].address.socket_address.port_value': expect.stringContaining('-1 is out of range for uint32'),
      '$.static_resources.clusters[0].connect_timeout': expect.stringContaining('expected a duration string such as "1.5s"'),
      '$.static_resources.clusters[1].connect_timeout': '0s must be greater than 0s (duration.gt)',
      '$.static_resources.clusters[2].name': expect.stringContaining('expected a string, got 42'),
    });
  });

  it('an unknown or malformed @type', () => {
    const b = fresh();
    tcpProxy(b, 0)['@type'] = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxi';
    tcpProxy(b, 1)['@type'] = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
    delete hcm(b, 2).http_filters[0].typed_config['@type'];
    hcm(b, 2).http_filters[0].typed_config.dynamic_stats = true;
    expect(violationsOf(b)).toEqual([
      { path: `${outboundTcpProxy}["@type"]`, message: expect.stringContaining('unknown type envoy.extensions.filters.network.tcp_proxy.v3.TcpProxi') },
      { path: '$.static_resources.listeners[1].filter_chains[0].filters[0].typed_config["@type"]', message: expect.stringContaining('it must be type.googleapis.com/<message full name>') },
      { path: '$.static_resources.listeners[2].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config["@type"]', message: expect.stringContaining('an Any needs "@type"') },
    ]);
  });

  it('checks inside typed_config recursively, wrappers as plain values with their rules', () => {
    const b = fresh();
    Object.assign(tcpProxy(b, 0), { max_connect_attempts: 3, idle_timeout: '1.5s' });
    tcpProxy(b, 1).max_connect_attempts = 0;
    hcm(b, 2).http_filters[0].typed_config.dynamic_stats = 'no';
    b.stats_server_version_override = '18446744073709551615';
    b.static_resources.clusters[0].ring_hash_lb_config = { minimum_ring_size: '9000000' };
    expect(violationsOf(b)).toEqual([
      { path: '$.static_resources.listeners[1].filter_chains[0].filters[0].typed_config.max_connect_attempts', message: '0 must be at least 1 (uint32.gte)' },
      { path: '$.static_resources.listeners[2].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.dynamic_stats', message: expect.stringContaining('expected true or false (bool), got "no"') },
      { path: '$.static_resources.clusters[0].ring_hash_lb_config.minimum_ring_size', message: '9000000 must be at most 8388608 (uint64.lte)' },
    ]);
  });

  it('missing required fields: tcp_proxy without cluster and stat_prefix, a route without an action', () => {
    const b = fresh();
    b.static_resources.listeners[1].filter_chains[0].filters[0].typed_config = { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy' };
    delete hcm(b, 2).route_config.virtual_hosts[0].routes[0].route;
    hcm(b, 3).route_config.virtual_hosts[0].domains = [];
    const inbound = '$.static_resources.listeners[1].filter_chains[0].filters[0].typed_config';
    const vhost = (l: number): string => `$.static_resources.listeners[${l}].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0]`;
    expect(violationsOf(b)).toEqual([
      { path: inbound, message: 'oneof cluster_specifier of envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy is required: set one of cluster, weighted_clusters (validate.required)' },
      { path: `${inbound}.stat_prefix`, message: 'not set, so it has the default value, and "" must be at least 1 character(s) long (string.min_len)' },
      { path: `${vhost(2)}.routes[0]`, message: expect.stringContaining('oneof action of envoy.config.route.v3.Route is required') },
      { path: `${vhost(3)}.domains`, message: 'needs at least 1 item(s), has 0 (repeated.min_items)' },
    ]);
  });

  it('two members of one oneof', () => {
    const b = fresh();
    b.admin.address.socket_address.named_port = 'admin';
    tcpProxy(b, 0).weighted_clusters = { clusters: [{ name: 'PassthroughCluster', weight: 1 }] };
    expect(violationsOf(b)).toEqual([
      { path: outboundTcpProxy, message: 'oneof cluster_specifier of envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy has 2 members set (cluster, weighted_clusters); at most one may be' },
      { path: '$.admin.address.socket_address', message: 'oneof port_specifier of envoy.config.core.v3.SocketAddress has 2 members set (port_value, named_port); at most one may be' },
    ]);
  });

  it('takes JSON names as Envoy does, but not a field given under both names', () => {
    const b = fresh();
    const chain = b.static_resources.listeners[0];
    chain.listenerFilters = chain.listener_filters;
    delete chain.listener_filters;
    expect(violationsOf(b)).toEqual([]);
    // The mapping takes every integer type as a decimal string too (Envoy does), not only 64-bit ones.
    b.admin.address.socket_address.port_value = '15000';
    expect(violationsOf(b)).toEqual([]);
    b.static_resources.clusters[0].connectTimeout = '5s';
    expect(violationsOf(b)).toEqual([{ path: '$.static_resources.clusters[0].connectTimeout', message: 'field connect_timeout of envoy.config.cluster.v3.Cluster is given twice, as "connect_timeout" and "connectTimeout"' }]);
  });

  it('collects every violation, also in a configured override', () => {
    const b = buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: 'REDIRECT', override: { stats_flush_interval: 5, node: { clustr: 'mesh' }, admin: { address: { socket_address: { address: '' } } } } }) as Obj;
    expect(violationsOf(b).map((v) => v.path)).toEqual(['$.node.clustr', '$.stats_flush_interval', '$.admin.address.socket_address.address']);
  });
});

describe('checker parts', () => {
  function ruleProblems(rules: FieldRules, value: RuleValue): { problems: string[]; unchecked: string[] } {
    const problems: string[] = [];
    const unchecked = new Set<string>();
    checkFieldRules(rules, value, { problem: (m) => problems.push(m), unchecked });
    return { problems, unchecked: [...unchecked] };
  }

  it('PGV: a reversed range means outside it, ignore_empty, header names, unknown rules reported as unchecked', () => {
    const outside: FieldRules = { int32: { gt: 10, lt: 5 } };
    expect(ruleProblems(outside, { kind: 'integer', value: 3n }).problems).toEqual([]);
    expect(ruleProblems(outside, { kind: 'integer', value: 12n }).problems).toEqual([]);
    expect(ruleProblems(outside, { kind: 'integer', value: 7n }).problems).toEqual(['7 must be less than 5 or greater than 10 (int32.lt/gt)']);
    expect(ruleProblems({ string: { min_len: 3, ignore_empty: true } }, { kind: 'string', value: '' }).problems).toEqual([]);
    expect(ruleProblems({ string: { well_known_regex: 'HTTP_HEADER_NAME' } }, { kind: 'string', value: 'x-bad header' }).problems).toEqual(['"x-bad header" is not a valid HTTP_HEADER_NAME (string.well_known_regex)']);
    expect(ruleProblems({ string: { well_known_regex: 'HTTP_HEADER_NAME', strict: false } }, { kind: 'string', value: 'x-bad header' }).problems).toEqual([]);
    expect(ruleProblems({ string: { hostname: true } }, { kind: 'string', value: 'x' })).toEqual({ problems: [], unchecked: ['string.hostname'] });
  });

  it('expands $(VAR) as the kubelet does: known names replaced, $$ a literal $, unknown names kept', () => {
    const vars = new Map([['POD_NAME', 'web']]);
    expect(expandKubeletVars('$(POD_NAME).$(NOPE) $$(POD_NAME) $x $', vars)).toBe('web.$(NOPE) $(POD_NAME) $x $');
    const arg = renderBootstrapArg(buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: 'REDIRECT', override: { node: { metadata: { note: 'cost $(HOME)' } } } }));
    const bootstrap = proxyBootstrap({ args: ['--config-yaml', arg], env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'POD_NAMESPACE', value: 'shop' }] }, { 'metadata.name': 'web' }) as Obj;
    expect(bootstrap.node).toEqual({ id: 'web.shop', cluster: 'outrigger', metadata: { note: 'cost $(HOME)' } });
    expectClean(checkEnvoyBootstrap(bootstrap));
  });
});
