/**
 * Everything the per-family planners need, derived once from the config and host facts:
 * family-specific loopback and passthrough addresses, the family's CIDRs and DNS servers, and
 * Istio's global switches (effective DNS capture, "loopback explicitly captured").
 */

import type { CaptureConfig, Cidr, HostFacts, IpFamily, Selection } from './capture-config.js';
import { CaptureConstants } from './capture-config.js';
import type { Rule, Table } from './rule.js';

export interface PlanContext {
  readonly config: CaptureConfig;
  readonly family: IpFamily;
  /** `127.0.0.1/32` (or ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR) or `::1/128`. */
  readonly loopback: string;
  /** Source of the proxy's inbound passthrough connections: `127.0.0.6/32` or `::6/128`. */
  readonly passthroughSource: string;
  /** Outbound include ranges of this family (`all` applies to both families). */
  readonly includeRanges: Selection<Cidr>;
  readonly excludeRanges: readonly Cidr[];
  /** True when any include range (either family) is a loopback range: app→lo is then captured. */
  readonly loopbackCaptured: boolean;
  /** DNS capture is on and has something to capture (a server, or capture-all). */
  readonly dnsCapture: boolean;
  /** This family's nameservers, as `/32` or `/128` host CIDRs. */
  readonly dnsServers: readonly string[];
  /** Appends a rule to the plan. */
  add(table: Table, chain: string, purpose: string, ...spec: string[]): void;
  /** Inserts a rule at a 1-based position. */
  insert(table: Table, chain: string, position: number, purpose: string, ...spec: string[]): void;
}

export function createPlanContext(config: CaptureConfig, facts: HostFacts, family: IpFamily, rules: Rule[]): PlanContext {
  const include = config.outboundIpRangesInclude;
  const includeRanges: Selection<Cidr> = include.all
    ? include
    : { all: false, items: include.items.filter((c) => c.family === family) };
  const anyServers = facts.dnsServersV4.length > 0 || facts.dnsServersV6.length > 0;
  const servers = family === 4 ? facts.dnsServersV4 : facts.dnsServersV6;
  return {
    config,
    family,
    loopback: family === 4 ? config.ipv4LoopbackCidr.text : CaptureConstants.ipv6LoopbackCidr,
    passthroughSource: family === 4 ? CaptureConstants.inboundPassthroughSourceV4 : CaptureConstants.inboundPassthroughSourceV6,
    includeRanges,
    excludeRanges: config.outboundIpRangesExclude.filter((c) => c.family === family),
    loopbackCaptured: !include.all && include.items.some((c) => c.isLoopback),
    dnsCapture: config.redirectDns && (config.captureAllDns || anyServers),
    dnsServers: servers.map((s) => `${s}/${family === 4 ? 32 : 128}`),
    add(table, chain, purpose, ...spec) {
      rules.push({ table, chain, spec, purpose });
    },
    insert(table, chain, position, purpose, ...spec) {
      rules.push({ table, chain, insertAt: position, spec, purpose });
    },
  };
}
