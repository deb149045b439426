/**
 * Why each rule exists, as data: the purpose code every rule carries (and every backend writes as
 * the rule's comment, `outrigger/<code>`), a sentence saying what the rule does for the pod, and
 * the capture settings that produce it (flag, env var, annotation or CNI setting all feed these
 * keys). Logs, tests and an explainer of live rules all speak of the same purposes.
 */

import type { CaptureSettingKey } from './build-capture-config.js';

export interface PurposeInfo {
  readonly explain: string;
  readonly settings: readonly CaptureSettingKey[];
}

export const RulePurposes = {
  'exclude-interface': { explain: 'traffic through an excluded interface is never captured, either way', settings: ['excludeInterfaces'] },
  'kubevirt-not-inbound': { explain: "a VM interface's traffic is not inbound traffic for the pod", settings: ['kubeVirtInterfaces'] },
  'kubevirt-as-outbound': { explain: "a VM interface's traffic to a captured range goes to the outbound listener", settings: ['kubeVirtInterfaces', 'outboundIpRangesInclude'] },
  'drop-invalid': { explain: 'packets conntrack finds INVALID are dropped instead of resetting connections', settings: ['dropInvalid'] },
  'inbound-tunnel-bypass': { explain: 'inbound connections to the tunnel (HBONE) port are never captured', settings: ['inboundTunnelPort'] },
  'to-outbound-listener': { explain: "captured outbound TCP goes to the proxy's outbound listener", settings: ['proxyPort'] },
  'to-inbound-listener': { explain: "captured inbound TCP goes to the proxy's inbound listener", settings: ['inboundCapturePort'] },
  'capture-inbound': { explain: 'inbound TCP enters the inbound capture chain', settings: ['inboundPorts', 'inboundInterceptionMode'] },
  'inbound-port-excluded': { explain: 'inbound connections to an excluded port reach the app directly', settings: ['inboundPortsExclude'] },
  'inbound-all-ports': { explain: 'inbound connections to every other port are captured', settings: ['inboundPorts'] },
  'inbound-port': { explain: 'inbound connections to a listed port are captured', settings: ['inboundPorts'] },
  'inbound-established': { explain: 'TPROXY: packets of inbound connections already diverted keep going to the proxy', settings: ['inboundPorts', 'inboundInterceptionMode'] },
  'tproxy-established': { explain: 'TPROXY: packets of a diverted connection are marked and accepted for local delivery', settings: ['inboundInterceptionMode', 'inboundTproxyMark'] },
  'tproxy-to-inbound-listener': { explain: "TPROXY: new inbound connections go to the proxy's inbound listener, marked", settings: ['inboundInterceptionMode', 'inboundCapturePort', 'inboundTproxyMark'] },
  'tproxy-no-listener': { explain: 'TPROXY (nftables): a new inbound connection that no transparent socket takes (the proxy is not listening yet) is dropped, as iptables TPROXY drops it, never let through to the app', settings: ['inboundInterceptionMode', 'inboundCapturePort'] },
  'tproxy-save-mark': { explain: "TPROXY: the inbound mark is kept on the connection", settings: ['inboundInterceptionMode', 'inboundTproxyMark'] },
  'tproxy-proxy-loopback': { explain: "TPROXY: the proxy's own marked loopback traffic is left alone", settings: ['inboundInterceptionMode', 'inboundTproxyMark'] },
  'tproxy-mark-proxy-to-app': { explain: "TPROXY: the proxy's calls to the pod's own address are marked so they are captured once", settings: ['inboundInterceptionMode', 'proxyUids', 'proxyGids'] },
  'tproxy-restore-mark': { explain: "TPROXY: replies of a marked connection get the connection's mark, so they are routed locally", settings: ['inboundInterceptionMode', 'inboundTproxyMark'] },
  'tproxy-no-loop': { explain: 'TPROXY: packets the proxy already handled are not diverted again', settings: ['inboundInterceptionMode', 'inboundTproxyMark'] },
  'inbound-passthrough': { explain: 'connections the proxy makes to the app from the passthrough address (127.0.0.6, ::6) are not captured', settings: [] },
  'app-to-app-loopback': { explain: 'TPROXY: loopback traffic between apps in the pod is not diverted', settings: ['inboundInterceptionMode'] },
  'capture-outbound': { explain: 'locally generated traffic enters the outbound capture chain', settings: [] },
  'outbound-port-excluded': { explain: 'outbound traffic to an excluded port goes out directly', settings: ['outboundPortsExclude'] },
  'proxy-to-pod-ip': { explain: "the proxy's calls to the pod's own address go to the inbound listener", settings: ['proxyUids', 'proxyGids', 'inboundTunnelPort'] },
  'app-loopback': { explain: "other users' loopback traffic is not captured", settings: ['proxyUids', 'proxyGids', 'outboundIpRangesInclude'] },
  'proxy-own-traffic': { explain: "the proxy's own traffic is never captured", settings: ['proxyUids', 'proxyGids'] },
  'owner-group-excluded': { explain: "the outbound traffic of an excluded group is not captured", settings: ['ownerGroupsExclude'] },
  'owner-group-not-captured': { explain: 'outbound traffic of groups outside the include list is not captured', settings: ['ownerGroupsInclude'] },
  localhost: { explain: 'traffic to localhost is not captured', settings: ['ipv4LoopbackCidr'] },
  'outbound-range-excluded': { explain: 'outbound traffic to an excluded range goes out directly', settings: ['outboundIpRangesExclude'] },
  'outbound-port-included': { explain: 'outbound TCP to an included port is captured', settings: ['outboundPortsInclude'] },
  'outbound-all': { explain: 'all other outbound traffic is captured', settings: ['outboundIpRangesInclude'] },
  'outbound-range-included': { explain: 'outbound traffic to an included range is captured', settings: ['outboundIpRangesInclude'] },
  'capture-dns': { explain: 'DNS queries enter the DNS capture chain', settings: ['redirectDns'] },
  'dns-to-proxy': { explain: "DNS queries (to the resolv.conf servers, or to anyone) go to the proxy's DNS listener", settings: ['redirectDns', 'captureAllDns'] },
  'dns-conntrack': { explain: 'DNS packets enter the conntrack-zone chain', settings: ['redirectDns'] },
  'dns-zone-proxy-upstream': { explain: "the proxy's DNS queries upstream use conntrack zone 1", settings: ['redirectDns', 'proxyUids', 'proxyGids'] },
  'dns-zone-proxy-reply': { explain: "the proxy's DNS answers to apps use conntrack zone 2", settings: ['redirectDns', 'proxyUids', 'proxyGids'] },
  'dns-zone-app-query': { explain: "apps' DNS queries use conntrack zone 2", settings: ['redirectDns', 'captureAllDns'] },
  'dns-zone-upstream-reply': { explain: "upstream DNS answers use conntrack zone 1", settings: ['redirectDns', 'captureAllDns'] },
  'ipv6-not-captured': { explain: 'nftables: the pod has no IPv6 capture, so IPv6 packets leave our chains at once (as without ip6tables rules)', settings: [] },
} as const satisfies Record<string, PurposeInfo>;

export type RulePurpose = keyof typeof RulePurposes;

export function isRulePurpose(text: string): text is RulePurpose {
  return Object.hasOwn(RulePurposes, text);
}
