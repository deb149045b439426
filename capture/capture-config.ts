/**
 * The capture model: one typed description of how a pod's traffic is sent to its proxy.
 *
 * Three adapters produce it (istio-iptables flags and env for `outrigger init`, pod annotations
 * in the injector, the CNI network config), and one planner consumes it. Values here are
 * already validated and normalised; adapters turn raw strings into this shape through
 * `capture-values.ts` and report every bad field at once.
 */

export const InterceptionModes = ['REDIRECT', 'TPROXY'] as const;
export type InterceptionMode = (typeof InterceptionModes)[number];

export type IpFamily = 4 | 6;

/** A parsed CIDR in canonical spelling; host bits are kept as written (iptables masks them). */
export interface Cidr {
  readonly family: IpFamily;
  /** Canonical text, e.g. `10.0.0.0/8`, `2001:db8::/32`. */
  readonly text: string;
  /** True for 127.0.0.0/8 and ::1 ranges: capturing them changes the loopback rules. */
  readonly isLoopback: boolean;
}

/** `*` (everything) or an explicit list; an empty list means "nothing". */
export type Selection<T> = { readonly all: true } | { readonly all: false; readonly items: readonly T[] };

/**
 * Which processes' outbound traffic is captured, by group (Istio's ISTIO_OUTBOUND_OWNER_GROUPS
 * and ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE). Groups are numeric ids or names.
 */
export type OwnerGroupFilter =
  | { readonly mode: 'all' }
  | { readonly mode: 'only'; readonly groups: readonly string[] }
  | { readonly mode: 'except'; readonly groups: readonly string[] };

export interface CaptureConfig {
  /** Port the proxy's outbound listener accepts redirected traffic on. Default 15001 (`-p`). */
  readonly proxyPort: number;
  /** Port the proxy's inbound listener accepts redirected traffic on. Default 15006 (`-z`). */
  readonly inboundCapturePort: number;
  /** Inbound tunnel (HBONE) port that is never captured. Default 15008 (`-e`). */
  readonly inboundTunnelPort: number;
  /** Users whose traffic is not captured: the proxy's own. Default ["1337"] (`-u`). */
  readonly proxyUids: readonly string[];
  /** Groups whose traffic is not captured. Defaults to the uids (`-g`). */
  readonly proxyGids: readonly string[];
  /** How inbound traffic reaches the proxy. Default REDIRECT (`-m`). */
  readonly inboundInterceptionMode: InterceptionMode;
  /** Packet mark used by TPROXY mode. Default 1337 (`-t`). */
  readonly inboundTproxyMark: number;
  /** Policy-routing table used by TPROXY mode. Default 133 (`-r`). */
  readonly inboundTproxyRouteTable: number;
  /** Inbound ports to capture; `*` for all. Empty: no inbound capture (`-b`). */
  readonly inboundPorts: Selection<number>;
  /** Inbound ports never captured; applies only when inboundPorts is `*` (`-d`). */
  readonly inboundPortsExclude: readonly number[];
  /** Outbound destination ports always captured (`-q`). */
  readonly outboundPortsInclude: readonly number[];
  /** Outbound destination ports never captured (`-o`). */
  readonly outboundPortsExclude: readonly number[];
  /** Outbound destinations to capture; `*` for all. Empty: none (`-i`). */
  readonly outboundIpRangesInclude: Selection<Cidr>;
  /** Outbound destinations never captured (`-x`). */
  readonly outboundIpRangesExclude: readonly Cidr[];
  /** Interfaces whose traffic is never captured, either way (`-c`). */
  readonly excludeInterfaces: readonly string[];
  /** Interfaces of virtual machines whose inbound traffic is treated as outbound (`-k`). */
  readonly kubeVirtInterfaces: readonly string[];
  /** Groups whose outbound traffic is captured. Default: all. */
  readonly ownerGroups: OwnerGroupFilter;
  /** Send DNS (port 53) to the proxy's DNS listener on 15053 (`--redirect-dns`). */
  readonly redirectDns: boolean;
  /** With redirectDns: capture DNS to any server, not only those in resolv.conf. */
  readonly captureAllDns: boolean;
  /** Drop packets conntrack marks INVALID instead of letting them reset connections. */
  readonly dropInvalid: boolean;
  /** Dual-stack pod: plan both families even when the pod's first address is IPv4. */
  readonly dualStack: boolean;
  /** Loopback range treated as "localhost" for IPv4. Default 127.0.0.1/32. */
  readonly ipv4LoopbackCidr: Cidr;
  /**
   * Apply with native nftables (Istio's `--native-nftables`): one `nft -f` for both families and
   * every table, instead of iptables. Chooses the backend only; the rules are the same. Default false.
   */
  readonly nativeNftables: boolean;
}

/** Facts about the pod's network that the plan depends on, gathered by the entry point. */
export interface HostFacts {
  /** Whether to plan (and apply) IPv6 rules. */
  readonly ipv6: boolean;
  /** Nameservers from the pod's resolv.conf, split by family. */
  readonly dnsServersV4: readonly string[];
  readonly dnsServersV6: readonly string[];
}

/** Fixed values of the capture contract shared with the proxy. */
export const CaptureConstants = {
  /** Source address the proxy uses to reach the app (inbound passthrough), per family. */
  inboundPassthroughSourceV4: '127.0.0.6/32',
  inboundPassthroughSourceV6: '::6/128',
  ipv6LoopbackCidr: '::1/128',
  /** Port of the proxy's DNS listener. */
  dnsListenerPort: 15053,
  /** Mark the proxy's outbound-to-inbound traffic carries in TPROXY mode. */
  outboundMark: 1338,
  /** Default probe port used by --run-validation (nothing listens there). */
  validationProbePort: 15002,
} as const;
