/**
 * The rule planner: a pure function from the capture model and host facts to one list of rules
 * for both address families (see rule.ts), plus the policy routing TPROXY needs. Steps run in
 * istio-iptables' order, so each family's rules match Istio's iptables rules chain by chain (see
 * test/unit/conformance.test.ts) and the whole list matches Istio's nftables rules (see
 * test/unit/conformance-nft.test.ts).
 */

import type { CaptureConfig, HostFacts, IpFamily } from './capture-config.js';
import { createPlanContext } from './plan-context.js';
import { planDnsCapture } from './plan-dns.js';
import { planDropInvalid, planInboundPorts, planInterfaceExemptions, planRedirectChains, planTproxyMarks } from './plan-inbound.js';
import { planOutboundDestinations, planOutputJump, planOwnerGroups, planProxyOwnerExemptions } from './plan-outbound.js';
import { type FamilyPlan, isForFamily, type Rule } from './rule.js';

/** `ip rule add fwmark MARK lookup TABLE` + `ip route add local default dev lo table TABLE`. */
export interface PolicyRoutingPlan {
  readonly mark: number;
  readonly table: number;
  readonly families: readonly IpFamily[];
}

export interface CapturePlan {
  /** The families captured: `[4]`, or `[4, 6]` when the pod has IPv6. */
  readonly families: readonly IpFamily[];
  /** Every rule, both families, in the order they are planned. */
  readonly rules: readonly Rule[];
  /** The IPv4 rules (iptables' view). */
  readonly ipv4: FamilyPlan;
  /** The IPv6 rules; null when the pod has no IPv6 (the applier still removes an earlier run's IPv6 rules). */
  readonly ipv6: FamilyPlan | null;
  readonly policyRouting: PolicyRoutingPlan | null;
  /** Add `::6/128` to lo, the IPv6 inbound passthrough source (IPv4 uses 127.0.0.6 from 127/8). */
  readonly ipv6PassthroughAddress: boolean;
}

export function planRules(config: CaptureConfig, facts: HostFacts): Rule[] {
  const rules: Rule[] = [];
  const ctx = createPlanContext(config, facts, rules);
  planInterfaceExemptions(ctx);
  planDropInvalid(ctx);
  planRedirectChains(ctx);
  planInboundPorts(ctx);
  planOutputJump(ctx);
  planProxyOwnerExemptions(ctx);
  planOwnerGroups(ctx);
  planDnsCapture(ctx);
  planOutboundDestinations(ctx);
  planTproxyMarks(ctx);
  return rules;
}

/** One family's rules of a plan. */
export function familyPlan(rules: readonly Rule[], family: IpFamily): FamilyPlan {
  return { family, rules: rules.filter((rule) => isForFamily(rule, family)) };
}

/** One family's plan on its own (its rules are the same whether or not the other family is planned). */
export function planFamily(config: CaptureConfig, facts: HostFacts, family: IpFamily): FamilyPlan {
  return familyPlan(planRules(config, { ...facts, ipv6: facts.ipv6 || family === 6 }), family);
}

export function planCapture(config: CaptureConfig, facts: HostFacts): CapturePlan {
  const families: IpFamily[] = facts.ipv6 ? [4, 6] : [4];
  const rules = planRules(config, facts);
  return {
    families,
    rules,
    ipv4: familyPlan(rules, 4),
    ipv6: facts.ipv6 ? familyPlan(rules, 6) : null,
    policyRouting: config.inboundInterceptionMode === 'TPROXY'
      ? { mark: config.inboundTproxyMark, table: config.inboundTproxyRouteTable, families }
      : null,
    ipv6PassthroughAddress: facts.ipv6,
  };
}
