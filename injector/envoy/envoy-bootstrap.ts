/**
 * The Envoy bootstrap of outrigger's transparent proxy (Envoy v3 API), passed inline to Envoy
 * with `--config-yaml` (a pod cannot mount a ConfigMap from the injector's namespace, and an
 * inline bootstrap needs no object per namespace).
 *
 * Layout (ports from the injector configuration, Istio's numbers by default):
 *   15001 outbound capture  original_dst listener filter -> tcp_proxy -> PassthroughCluster (ORIGINAL_DST)
 *   15006 inbound capture   original_dst listener filter -> tcp_proxy -> InboundPassthroughCluster
 *                           (ORIGINAL_DST, bound to 127.0.0.6 / ::6, which capture never re-captures)
 *   15021 readiness         GET /healthz/ready -> admin /ready
 *   15090 Prometheus        GET /stats/prometheus -> admin /stats/prometheus
 *   15000 admin             127.0.0.1 only
 * Each listener also listens on `::` (IPv6-only socket) so dual-stack pods' IPv6 traffic, which
 * `outrigger init` captures, has a listener; this needs IPv6 enabled in the pod's kernel.
 * In TPROXY mode the inbound listener is transparent (the proxy then needs NET_ADMIN).
 * With interception mode NONE (nothing is captured) the two capture listeners are left out, as
 * Istio builds no virtual listeners for such a proxy: a connection made straight to 15001 or 15006
 * would otherwise be "passed through" to its own destination, the proxy itself. The rest (readiness,
 * Prometheus, admin, the clusters) stays, and so does the override, which is where listeners for
 * explicit (non-transparent) proxying go.
 *
 * The node id uses Kubernetes' `$(VAR)` expansion of container args (POD_NAME, POD_NAMESPACE
 * are set from the downward API); any other `$(` in the bootstrap is escaped as `$$(`.
 * Limits: plain TCP passthrough (no mTLS, no L7 routing, no DNS listener on 15053; a pod that
 * asks for DNS capture needs a proxy that serves it).
 */

import type { InterceptionMode } from '../../capture/capture-config.js';
import type { ProxyPorts } from '../config/injector-config.js';

type Json = Record<string, unknown>;

const NodeIdPlaceholder = '@@OUTRIGGER_NODE_ID@@';

const socket = (address: string, port: number): Json => ({ socket_address: { address, port_value: port } });
const anyAddress = (port: number): Json => ({ address: socket('0.0.0.0', port), additional_addresses: [{ address: socket('::', port) }] });

const originalDstFilter: Json = {
  name: 'envoy.filters.listener.original_dst',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' },
};

function tcpProxyChain(statPrefix: string, cluster: string): Json {
  return {
    filters: [
      {
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: statPrefix, cluster },
      },
    ],
  };
}

/** An HTTP listener that forwards one exact path to the admin interface. */
function adminPathListener(name: string, port: number, path: string, adminPath: string): Json {
  return {
    name,
    ...anyAddress(port),
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: name,
              route_config: {
                virtual_hosts: [
                  {
                    name,
                    domains: ['*'],
                    routes: [{ match: { path }, route: { cluster: 'admin', ...(adminPath === path ? {} : { prefix_rewrite: adminPath }) } }],
                  },
                ],
              },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
            },
          },
        ],
      },
    ],
  };
}

export interface BootstrapOptions {
  readonly ports: ProxyPorts;
  /** REDIRECT, TPROXY, or NONE: no capture, so no capture listeners. */
  readonly interceptionMode: InterceptionMode | 'NONE';
  readonly override?: Readonly<Json>;
}

/** The listeners that only make sense behind capture (left out with interception mode NONE). */
export const CaptureListenerNames: readonly string[] = ['outbound_capture', 'inbound_capture'];

export function buildEnvoyBootstrap(options: BootstrapOptions): Json {
  if (options.interceptionMode === 'NONE') {
    // Built as for REDIRECT (so the override merges exactly as it does there), then the capture
    // listeners are removed; nothing refers to a listener, so nothing dangles.
    const full = buildEnvoyBootstrap({ ...options, interceptionMode: 'REDIRECT' });
    const resources = full.static_resources;
    if (!isMapping(resources)) return full;
    const listeners = Array.isArray(resources.listeners) ? resources.listeners : [];
    const kept = listeners.filter((l) => !(isMapping(l) && typeof l.name === 'string' && CaptureListenerNames.includes(l.name)));
    return { ...full, static_resources: { ...resources, listeners: kept } };
  }
  const { ports } = options;
  const bootstrap: Json = {
    node: { id: NodeIdPlaceholder, cluster: 'outrigger' },
    admin: { address: socket('127.0.0.1', ports.admin) },
    static_resources: {
      listeners: [
        {
          name: 'outbound_capture',
          ...anyAddress(ports.outbound),
          listener_filters: [originalDstFilter],
          filter_chains: [tcpProxyChain('outbound_passthrough', 'PassthroughCluster')],
        },
        {
          name: 'inbound_capture',
          ...anyAddress(ports.inbound),
          ...(options.interceptionMode === 'TPROXY' ? { transparent: true } : {}),
          listener_filters: [originalDstFilter],
          filter_chains: [tcpProxyChain('inbound_passthrough', 'InboundPassthroughCluster')],
        },
        adminPathListener('readiness', ports.health, '/healthz/ready', '/ready'),
        adminPathListener('prometheus', ports.prometheus, '/stats/prometheus', '/stats/prometheus'),
      ],
      clusters: [
        { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '10s' },
        {
          name: 'InboundPassthroughCluster',
          type: 'ORIGINAL_DST',
          lb_policy: 'CLUSTER_PROVIDED',
          connect_timeout: '10s',
          upstream_bind_config: {
            source_address: { address: '127.0.0.6', port_value: 0 },
            extra_source_addresses: [{ address: { address: '::6', port_value: 0 } }],
          },
        },
        {
          name: 'admin',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: { cluster_name: 'admin', endpoints: [{ lb_endpoints: [{ endpoint: { address: socket('127.0.0.1', ports.admin) } }] }] },
        },
      ],
    },
  };
  return options.override ? mergeOver(bootstrap, options.override) : bootstrap;
}

/**
 * The lists an override merges into by entry `name` (`static_resources.listeners` and `.clusters`):
 * an entry named like a generated one is merged into it, a new name is appended. So an override
 * adds a listener (DNS on 15053) without restating the generated ones, whose settings differ by
 * interception mode (the inbound listener is transparent only under TPROXY).
 */
export const NamedLists: ReadonlyMap<string, readonly string[]> = new Map([['static_resources', ['listeners', 'clusters']]]);

/**
 * Mappings merged key by key; the named lists above merged by entry name; anything else (other
 * lists included) replaced by the override.
 */
export function mergeOver(base: Readonly<Json>, override: Readonly<Json>, parentKey?: string): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    if (parentKey !== undefined && NamedLists.get(parentKey)?.includes(key) && Array.isArray(current) && Array.isArray(value)) out[key] = mergeByName(current, value);
    else out[key] = isMapping(current) && isMapping(value) ? mergeOver(current, value, parentKey === undefined ? key : `${parentKey}.${key}`) : value;
  }
  return out;
}

function mergeByName(base: readonly unknown[], override: readonly unknown[]): unknown[] {
  const nameOf = (entry: unknown): unknown => (isMapping(entry) ? entry.name : undefined);
  const merged = base.map((entry) => {
    const name = nameOf(entry);
    const replacement = name === undefined ? undefined : override.find((o) => nameOf(o) === name);
    return replacement !== undefined && isMapping(entry) && isMapping(replacement) ? mergeOver(entry, replacement) : entry;
  });
  const baseNames = new Set(base.map(nameOf).filter((n) => n !== undefined));
  return [...merged, ...override.filter((o) => { const name = nameOf(o); return name === undefined || !baseNames.has(name); })];
}

function isMapping(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The bootstrap as the compact JSON argument of `--config-yaml`, with `$(` escaped for the kubelet. */
export function renderBootstrapArg(bootstrap: Readonly<Json>): string {
  // Function replacements: in a replacement string `$$` would mean one `$`.
  return JSON.stringify(bootstrap)
    .replaceAll('$(', () => '$$(')
    .replaceAll(NodeIdPlaceholder, () => '$(POD_NAME).$(POD_NAMESPACE)');
}
