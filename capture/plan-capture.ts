/**
 * The rule planner: a pure function from the capture model and host facts to the rules of each
 * address family, plus the policy routing TPROXY needs. Steps run in istio-iptables' order, so
 * the output matches Istio's rules chain by chain (see test/unit/conformance.test.ts).
 */

import type { CaptureConfig, HostFacts, IpFamily } from './capture-config.js';
import { createPlanContext } from './plan-context.js';
import { planDnsCapture } from './plan-dns.js';
import { planDropInvalid, planInboundPorts, planInterfaceExemptions, planRedirectChains, planTproxyMarks } from './plan-inbound.js';
import { planOutboundDestinations, planOutputJump, planOwnerGroups, planProxyOwnerExemptions } from './plan-outbound.js';
import type { FamilyPlan, Rule } from './rule.js';

/** `ip rule add fwmark MARK lookup TABLE` + `ip route add local default dev lo table TABLE`. */
export interface PolicyRoutingPlan {
  readonly mark: number;
  readonly table: number;
  readonly families: readonly IpFamily[];
}

export interface CapturePlan {
  readonly ipv4: FamilyPlan;
  /** Null when the pod has no IPv6: nothing is added with ip6tables (the applier still removes an earlier run's IPv6 rules). */
  readonly ipv6: FamilyPlan | null;
  readonly policyRouting: PolicyRoutingPlan | null;
  /** Add `::6/128` to lo, the IPv6 inbound passthrough source (IPv4 uses 127.0.0.6 from 127/8). */
  readonly ipv6PassthroughAddress: boolean;
}

export function planFamily(config: CaptureConfig, facts: HostFacts, family: IpFamily): FamilyPlan {
  const rules: Rule[] = [];
  const ctx = createPlanContext(config, facts, family, rules);
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
  return { family, rules };
}

export function planCapture(config: CaptureConfig, facts: HostFacts): CapturePlan {
  const families: IpFamily[] = facts.ipv6 ? [4, 6] : [4];
  return {
    ipv4: planFamily(config, facts, 4),
    ipv6: facts.ipv6 ? planFamily(config, facts, 6) : null,
    policyRouting: config.inboundInterceptionMode === 'TPROXY'
      ? { mark: config.inboundTproxyMark, table: config.inboundTproxyRouteTable, families }
      : null,
    ipv6PassthroughAddress: facts.ipv6,
  };
}
