// The generated Envoy bootstrap: the transparent-proxy layout the capture rules rely on (ports,
// original_dst, ORIGINAL_DST clusters, 127.0.0.6 for inbound, admin on loopback only), TPROXY,
// interception mode NONE (no capture listeners), the configured override merged over it, and the `--config-yaml` argument's escaping.
import { describe, expect, it } from 'vitest';
import { DefaultProxyPorts } from '../../injector/config/injector-config.js';
import { buildEnvoyBootstrap, mergeOver, renderBootstrapArg } from '../../injector/envoy/envoy-bootstrap.js';

type Obj = Record<string, any>;

const listener = (b: Obj, name: string): Obj => (b.static_resources.listeners as Obj[]).find((l) => l.name === name) as Obj;
const cluster = (b: Obj, name: string): Obj => (b.static_resources.clusters as Obj[]).find((c) => c.name === name) as Obj;

describe('Envoy bootstrap', () => {
  const b = buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: 'REDIRECT' }) as Obj;

  it('listens where capture sends traffic and forwards to the original destination', () => {
    for (const [name, port, target] of [
      ['outbound_capture', 15001, 'PassthroughCluster'],
      ['inbound_capture', 15006, 'InboundPassthroughCluster'],
    ] as const) {
      const l = listener(b, name);
      expect(l.address.socket_address).toEqual({ address: '0.0.0.0', port_value: port });
      expect(l.additional_addresses[0].address.socket_address).toEqual({ address: '::', port_value: port });
      expect(l.listener_filters.map((f: Obj) => f.name)).toEqual(['envoy.filters.listener.original_dst']);
      expect(l.filter_chains[0].filters[0].typed_config.cluster).toBe(target);
      expect(l.transparent).toBeUndefined();
      expect(cluster(b, target)).toMatchObject({ type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' });
    }
    expect(cluster(b, 'InboundPassthroughCluster').upstream_bind_config.source_address).toEqual({ address: '127.0.0.6', port_value: 0 });
    expect(cluster(b, 'PassthroughCluster').upstream_bind_config).toBeUndefined();
  });

  it('keeps admin on loopback and exposes only readiness and Prometheus stats from it', () => {
    expect(b.admin.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 15000 });
    const admin = cluster(b, 'admin');
    expect(admin.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 15000 });
    const route = (name: string): Obj => listener(b, name).filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes;
    expect(listener(b, 'readiness').address.socket_address.port_value).toBe(15021);
    expect(route('readiness')).toEqual([{ match: { path: '/healthz/ready' }, route: { cluster: 'admin', prefix_rewrite: '/ready' } }]);
    expect(listener(b, 'prometheus').address.socket_address.port_value).toBe(15090);
    expect(route('prometheus')).toEqual([{ match: { path: '/stats/prometheus' }, route: { cluster: 'admin' } }]);
    expect(b.static_resources.listeners).toHaveLength(4);
  });

  it('makes the inbound listener transparent in TPROXY mode and follows configured ports', () => {
    const t = buildEnvoyBootstrap({ ports: { ...DefaultProxyPorts, outbound: 16001, inbound: 16006, admin: 16000 }, interceptionMode: 'TPROXY' }) as Obj;
    expect(listener(t, 'inbound_capture').transparent).toBe(true);
    expect(listener(t, 'inbound_capture').address.socket_address.port_value).toBe(16006);
    expect(listener(t, 'outbound_capture').address.socket_address.port_value).toBe(16001);
    expect(t.admin.address.socket_address.port_value).toBe(16000);
  });

  it('leaves out the capture listeners with interception mode NONE (nothing is captured), override merged as for REDIRECT', () => {
    const dns = { name: 'dns', address: { socket_address: { protocol: 'UDP', address: '127.0.0.1', port_value: 15053 } } };
    const override = { static_resources: { listeners: [dns, { name: 'outbound_capture', per_connection_buffer_limit_bytes: 1024 }] } };
    const none = buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: 'NONE', override }) as Obj;
    const redirect = buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: 'REDIRECT', override }) as Obj;
    expect(none.static_resources.listeners.map((l: Obj) => l.name)).toEqual(['readiness', 'prometheus', 'dns']);
    expect(none.static_resources.clusters).toEqual(redirect.static_resources.clusters);
    expect({ ...none, static_resources: undefined }).toEqual({ ...redirect, static_resources: undefined });
  });

  it('merges static listeners and clusters by name: a named entry into the generated one, a new name appended', () => {
    const base = { static_resources: { listeners: [{ name: 'a', x: 1 }, { name: 'b' }], clusters: [{ name: 'c', t: 1 }] }, other: [1] };
    const override = { static_resources: { listeners: [{ name: 'new' }, { name: 'a', y: 2 }], clusters: [{ name: 'c', t: 2 }] }, other: [2] };
    expect(mergeOver(base, override)).toEqual({
      static_resources: { listeners: [{ name: 'a', x: 1, y: 2 }, { name: 'b' }, { name: 'new' }], clusters: [{ name: 'c', t: 2 }] },
      other: [2],
    });
    // Only there: a list of the same name deeper down is replaced like any other.
    expect(mergeOver({ x: { listeners: [{ name: 'a' }] } }, { x: { listeners: [{ name: 'b' }] } })).toEqual({ x: { listeners: [{ name: 'b' }] } });
    // A listener added for DNS keeps the generated ones, with their interception-mode settings.
    const dns = { name: 'dns', address: { socket_address: { protocol: 'UDP', address: '127.0.0.1', port_value: 15053 } } };
    for (const mode of ['REDIRECT', 'TPROXY'] as const) {
      const merged = buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: mode, override: { static_resources: { listeners: [dns] } } }) as Obj;
      const generated = buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: mode }) as Obj;
      expect(merged.static_resources.listeners).toEqual([...generated.static_resources.listeners, dns]);
    }
  });

  it('merges an override: mappings key by key, lists replaced', () => {
    expect(mergeOver({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: 2 })).toEqual({ a: { b: 1, c: [3] }, d: 1, e: 2 });
    const o = buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: 'REDIRECT', override: { node: { cluster: 'mesh' }, stats_flush_interval: '5s' } }) as Obj;
    expect(o.node.cluster).toBe('mesh');
    expect(o.stats_flush_interval).toBe('5s');
    expect(o.static_resources).toEqual(b.static_resources);
  });

  it('renders compact JSON with the node id from the downward API and every other $( escaped', () => {
    const arg = renderBootstrapArg(buildEnvoyBootstrap({ ports: DefaultProxyPorts, interceptionMode: 'REDIRECT', override: { note: 'cost $(HOME)' } }));
    expect(arg).not.toContain('\n');
    expect(arg).toContain('"id":"$(POD_NAME).$(POD_NAMESPACE)"');
    expect(arg).toContain('"note":"cost $$(HOME)"');
    // What Envoy sees after the kubelet expands $(VAR) and turns $$ into $.
    const expanded = arg.replace(/\$\$\(|\$\((\w+)\)/g, (_match, name: string | undefined) => (name ? `<${name}>` : '$('));
    const parsed = JSON.parse(expanded) as Obj;
    expect(parsed.node.id).toBe('<POD_NAME>.<POD_NAMESPACE>');
    expect(parsed.note).toBe('cost $(HOME)');
  });
});
