/**
 * Everything the planners need, derived once from the config and host facts: the families the
 * plan captures, each family's loopback and passthrough addresses, the CIDRs and DNS servers (IPv4
 * first, then IPv6, as both backends list them), Istio's global switches (effective DNS capture,
 * "loopback explicitly captured"), and the one way rules enter the plan. A rule that names an
 * address is for that address's family; the others are for every planned family.
 */

import type { CaptureConfig, Cidr, HostFacts, IpFamily, Selection } from './capture-config.js';
import { CaptureConstants } from './capture-config.js';
import { formatAddress, parseIp } from './ip-address.js';
import type { Action, Chain, MatchTerm, Rule, Table } from './rule.js';
import type { RulePurpose } from './rule-purposes.js';

export interface PlanContext {
  readonly config: CaptureConfig;
  /** `[4]` or `[4, 6]`. */
  readonly families: readonly IpFamily[];
  /** `127.0.0.1/32` (or ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR) or `::1/128`. */
  loopback(family: IpFamily): string;
  /** Source of the proxy's inbound passthrough connections: `127.0.0.6/32` or `::6/128`. */
  passthroughSource(family: IpFamily): string;
  /** Outbound include ranges of the planned families, IPv4 first (`all` applies to every family). */
  readonly includeRanges: Selection<Cidr>;
  readonly excludeRanges: readonly Cidr[];
  /** True when any include range (either family) is a loopback range: app→lo is then captured. */
  readonly loopbackCaptured: boolean;
  /** DNS capture is on and has something to capture (a server, or capture-all). */
  readonly dnsCapture: boolean;
  /** The planned families' nameservers as host CIDRs (`/32`, `/128`), IPv4 first. */
  readonly dnsServers: readonly string[];
  /** Planned families that have at least one nameserver. */
  readonly dnsServerFamilies: readonly IpFamily[];
  /**
   * Appends a rule. `family` ties a rule without an address to one family (a jump into a chain
   * that only that family's rules fill); a rule with an address is for that address's family.
   */
  add(table: Table, chain: Chain, purpose: RulePurpose, match: readonly MatchTerm[], action: Action, family?: IpFamily): void;
  /** Inserts a rule at a 1-based position among the rules of its family (see Rule.insertAt). */
  insert(table: Table, chain: Chain, position: number, purpose: RulePurpose, match: readonly MatchTerm[], action: Action): void;
}

function byFamily<T extends { readonly family: IpFamily }>(items: readonly T[], families: readonly IpFamily[]): T[] {
  return families.flatMap((family) => items.filter((item) => item.family === family));
}

/** The family a rule's address terms name (planners never mix families in one rule). */
function addressFamily(match: readonly MatchTerm[]): IpFamily | undefined {
  for (const term of match) if (term.kind === 'source' || term.kind === 'destination') return term.family;
  return undefined;
}

export function createPlanContext(config: CaptureConfig, facts: HostFacts, rules: Rule[]): PlanContext {
  const families: IpFamily[] = facts.ipv6 ? [4, 6] : [4];
  const include = config.outboundIpRangesInclude;
  const includeRanges: Selection<Cidr> = include.all ? include : { all: false, items: byFamily(include.items, families) };
  const anyServers = facts.dnsServersV4.length > 0 || facts.dnsServersV6.length > 0;
  // Nameservers in canonical spelling (`0:0:0:0:0:0:0.0.0.0` is `::`): nft reads fewer spellings than iptables.
  const canonical = (address: string): string => {
    const parsed = parseIp(address);
    return parsed ? formatAddress(parsed) : address;
  };
  const servers = [
    ...facts.dnsServersV4.map((s) => ({ family: 4 as const, cidr: `${canonical(s)}/32` })),
    ...(facts.ipv6 ? facts.dnsServersV6.map((s) => ({ family: 6 as const, cidr: `${canonical(s)}/128` })) : []),
  ];
  const push = (rule: Rule): void => {
    rules.push(rule);
  };
  return {
    config,
    families,
    loopback: (family) => (family === 4 ? config.ipv4LoopbackCidr.text : CaptureConstants.ipv6LoopbackCidr),
    passthroughSource: (family) => (family === 4 ? CaptureConstants.inboundPassthroughSourceV4 : CaptureConstants.inboundPassthroughSourceV6),
    includeRanges,
    excludeRanges: byFamily(config.outboundIpRangesExclude, families),
    loopbackCaptured: !include.all && include.items.some((c) => c.isLoopback),
    dnsCapture: config.redirectDns && (config.captureAllDns || anyServers),
    dnsServers: servers.map((s) => s.cidr),
    dnsServerFamilies: families.filter((f) => servers.some((s) => s.family === f)),
    add(table, chain, purpose, match, action, family) {
      const ruleFamily = addressFamily(match) ?? family;
      push({ table, chain, match, action, purpose, ...(ruleFamily !== undefined ? { family: ruleFamily } : {}) });
    },
    insert(table, chain, position, purpose, match, action) {
      const family = addressFamily(match);
      push({ table, chain, insertAt: position, match, action, purpose, ...(family !== undefined ? { family } : {}) });
    },
  };
}
