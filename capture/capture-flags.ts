/**
 * The istio-iptables-compatible flags: long and short names, the capture setting each one feeds,
 * and the environment variables read when the flag is absent (Istio binds every flag to its
 * upper-cased name, plus a few historical variables). Part of the core because two surfaces
 * speak it: `outrigger init` parses these flags, and the injector renders them for proxy-init.
 */
import type { CaptureSettingKey } from './build-capture-config.js';

export interface CaptureFlag {
  readonly long: string;
  readonly short?: string;
  readonly setting: CaptureSettingKey;
  readonly kind: 'string' | 'boolean';
  readonly env: readonly string[];
  readonly describe: string;
}

const envOf = (long: string): string => long.toUpperCase().replace(/-/g, '_');

function flag(long: string, short: string | undefined, setting: CaptureSettingKey, describe: string, extraEnv: string[] = [], kind: 'string' | 'boolean' = 'string'): CaptureFlag {
  return { long, ...(short ? { short } : {}), setting, kind, env: [envOf(long), ...extraEnv], describe };
}

export const CaptureFlags: readonly CaptureFlag[] = [
  flag('envoy-port', 'p', 'proxyPort', 'Port of the proxy\'s outbound listener (default 15001)'),
  flag('inbound-capture-port', 'z', 'inboundCapturePort', 'Port of the proxy\'s inbound listener (default 15006)'),
  flag('inbound-tunnel-port', 'e', 'inboundTunnelPort', 'Inbound tunnel port, never captured (default 15008)'),
  flag('proxy-uid', 'u', 'proxyUids', 'Comma list of uids whose traffic is not captured (default 1337)'),
  flag('proxy-gid', 'g', 'proxyGids', 'Comma list of gids whose traffic is not captured (default: the uids)'),
  flag('istio-inbound-interception-mode', 'm', 'inboundInterceptionMode', 'REDIRECT or TPROXY (default REDIRECT)', ['INBOUND_INTERCEPTION_MODE']),
  flag('istio-inbound-tproxy-mark', 't', 'inboundTproxyMark', 'Packet mark for TPROXY mode (default 1337)', ['INBOUND_TPROXY_MARK']),
  flag('istio-inbound-tproxy-route-table', 'r', 'inboundTproxyRouteTable', 'Routing table for TPROXY mode (default 133)', ['INBOUND_TPROXY_ROUTE_TABLE']),
  flag('istio-inbound-ports', 'b', 'inboundPorts', 'Comma list of inbound ports to capture, or "*" (default: none)'),
  flag('istio-local-exclude-ports', 'd', 'inboundPortsExclude', 'Comma list of inbound ports never captured (with -b "*")'),
  flag('istio-service-cidr', 'i', 'outboundIpRangesInclude', 'Comma list of outbound CIDRs to capture, or "*" (default: none)'),
  flag('istio-service-exclude-cidr', 'x', 'outboundIpRangesExclude', 'Comma list of outbound CIDRs never captured'),
  flag('istio-outbound-ports', 'q', 'outboundPortsInclude', 'Comma list of outbound ports always captured'),
  flag('istio-local-outbound-ports-exclude', 'o', 'outboundPortsExclude', 'Comma list of outbound ports never captured'),
  flag('istio-exclude-interfaces', 'c', 'excludeInterfaces', 'Comma list of interfaces never captured'),
  flag('kube-virt-interfaces', 'k', 'kubeVirtInterfaces', 'Comma list of VM interfaces whose inbound traffic is treated as outbound'),
  flag('redirect-dns', undefined, 'redirectDns', 'Capture DNS to the resolv.conf nameservers into port 15053', ['ISTIO_META_DNS_CAPTURE'], 'boolean'),
  flag('capture-all-dns', undefined, 'captureAllDns', 'With --redirect-dns: capture DNS to any server', [], 'boolean'),
  flag('drop-invalid', undefined, 'dropInvalid', 'Drop packets conntrack considers INVALID', ['INVALID_DROP'], 'boolean'),
  flag('dual-stack', undefined, 'dualStack', 'Plan IPv4 and IPv6 for a dual-stack pod', ['ISTIO_AGENT_DUAL_STACK'], 'boolean'),
  flag('native-nftables', undefined, 'nativeNftables', 'Apply with nftables (one nft -f, both families) instead of iptables', [], 'boolean'),
];

/** Settings Istio reads only from the environment. */
export const CaptureEnvOnly: readonly { readonly env: string; readonly setting: CaptureSettingKey }[] = [
  { env: 'ISTIO_OUTBOUND_OWNER_GROUPS', setting: 'ownerGroupsInclude' },
  { env: 'ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE', setting: 'ownerGroupsExclude' },
  { env: 'ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR', setting: 'ipv4LoopbackCidr' },
];
