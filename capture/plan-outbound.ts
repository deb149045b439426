/**
 * Outbound capture: OUTPUT → ISTIO_OUTPUT, then (in Istio's order, which matters because the
 * first matching RETURN wins) excluded ports, the proxy's inbound passthrough, the proxy's own
 * uid/gid (never captured, except its calls back to the pod over lo), owner groups, localhost,
 * excluded ranges, included ports and included ranges → ISTIO_REDIRECT (REDIRECT to 15001).
 * Where a rule names an address, each planned family gets its own rule, IPv4 first.
 */

import { dport, dst, iif, jump, notDport, notDst, oif, owner, RETURN, src, tcp, udp } from './match-terms.js';
import { Chains, type MatchTerm } from './rule.js';
import type { PlanContext } from './plan-context.js';

export function planOutputJump(ctx: PlanContext): void {
  ctx.add('nat', 'OUTPUT', 'capture-outbound', [], jump(Chains.output));
  for (const port of ctx.config.outboundPortsExclude) {
    ctx.add('nat', Chains.output, 'outbound-port-excluded', [tcp, dport('tcp', port)], RETURN);
    ctx.add('nat', Chains.output, 'outbound-port-excluded', [udp, dport('udp', port)], RETURN);
  }
  for (const family of ctx.families) {
    ctx.add('nat', Chains.output, 'inbound-passthrough', [oif('lo'), src(ctx.passthroughSource(family))], RETURN);
  }
}

/**
 * For each proxy uid (then gid): the proxy calling the pod's own IP over lo goes to the inbound
 * listener; other users' loopback traffic is left alone (unless a loopback range is captured);
 * the proxy's own traffic is never captured.
 */
export function planProxyOwnerExemptions(ctx: PlanContext): void {
  const { config } = ctx;
  const tunnel = config.inboundTunnelPort;
  for (const by of ['uid', 'gid'] as const) {
    const ids = by === 'uid' ? config.proxyUids : config.proxyGids;
    for (const id of ids) {
      // Istio skips port 53 here only for uids (DNS from the proxy's group still reaches the inbound listener).
      const notTunnel = ctx.dnsCapture && by === 'uid' ? notDport('tcp', 53, tunnel) : notDport('tcp', tunnel);
      for (const family of ctx.families) {
        ctx.add('nat', Chains.output, 'proxy-to-pod-ip', [oif('lo'), tcp, notDst(ctx.loopback(family)), notTunnel, owner(by, id)], jump(Chains.inRedirect));
      }
      if (!ctx.loopbackCaptured) {
        const notDns: MatchTerm[] = ctx.dnsCapture ? [tcp, notDport('tcp', 53)] : [];
        ctx.add('nat', Chains.output, 'app-loopback', [oif('lo'), ...notDns, owner(by, id, true)], RETURN);
      }
      ctx.add('nat', Chains.output, 'proxy-own-traffic', [owner(by, id)], RETURN);
    }
  }
}

/**
 * Most groups an include list may name. They share one rule (`-m owner ! --gid-owner G` per
 * group, five words each, as Istio writes it), and iptables-restore (1.8, legacy and nft) refuses
 * a line of more words than its parser holds ("Parser cannot handle more arguments"): 48 groups
 * fit with the rule's other words, 49 do not. The config builder refuses longer lists up front.
 */
export const MaxOwnerGroupsInclude = 48;

export function planOwnerGroups(ctx: PlanContext): void {
  const filter = ctx.config.ownerGroups;
  if (filter.mode === 'except') {
    for (const group of filter.groups) {
      ctx.add('nat', Chains.output, 'owner-group-excluded', [owner('gid', group)], RETURN);
    }
  } else if (filter.mode === 'only') {
    ctx.add('nat', Chains.output, 'owner-group-not-captured', filter.groups.map((group) => owner('gid', group, true)), RETURN);
  }
}

export function planOutboundDestinations(ctx: PlanContext): void {
  const { config } = ctx;
  for (const family of ctx.families) {
    ctx.add('nat', Chains.output, 'localhost', [dst(ctx.loopback(family))], RETURN);
  }
  for (const cidr of ctx.excludeRanges) {
    ctx.add('nat', Chains.output, 'outbound-range-excluded', [dst(cidr.text)], RETURN);
  }
  for (const port of config.outboundPortsInclude) {
    ctx.add('nat', Chains.output, 'outbound-port-included', [dport('tcp', port)], jump(Chains.redirect));
  }
  const include = ctx.includeRanges;
  if (include.all) {
    ctx.add('nat', Chains.output, 'outbound-all', [], jump(Chains.redirect));
    for (const name of config.kubeVirtInterfaces) {
      ctx.insert('nat', 'PREROUTING', 1, 'kubevirt-as-outbound', [iif(name)], jump(Chains.redirect));
    }
    return;
  }
  for (const cidr of include.items) {
    for (const name of config.kubeVirtInterfaces) {
      ctx.insert('nat', 'PREROUTING', 1, 'kubevirt-as-outbound', [iif(name), dst(cidr.text)], jump(Chains.redirect));
    }
    ctx.add('nat', Chains.output, 'outbound-range-included', [dst(cidr.text)], jump(Chains.redirect));
  }
}
