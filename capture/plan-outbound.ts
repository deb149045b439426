/**
 * Outbound capture: OUTPUT → ISTIO_OUTPUT, then (in Istio's order, which matters because the
 * first matching RETURN wins) excluded ports, the proxy's inbound passthrough, the proxy's own
 * uid/gid (never captured, except its calls back to the pod over lo), owner groups, localhost,
 * excluded ranges, included ports and included ranges → ISTIO_REDIRECT (REDIRECT to 15001).
 */

import { Chains } from './rule.js';
import type { PlanContext } from './plan-context.js';

export function planOutputJump(ctx: PlanContext): void {
  ctx.add('nat', 'OUTPUT', 'capture-outbound', '-j', Chains.output);
  for (const port of ctx.config.outboundPortsExclude) {
    ctx.add('nat', Chains.output, 'outbound-port-excluded', '-p', 'tcp', '--dport', String(port), '-j', 'RETURN');
    ctx.add('nat', Chains.output, 'outbound-port-excluded', '-p', 'udp', '--dport', String(port), '-j', 'RETURN');
  }
  ctx.add('nat', Chains.output, 'inbound-passthrough', '-o', 'lo', '-s', ctx.passthroughSource, '-j', 'RETURN');
}

/**
 * For each proxy uid (then gid): the proxy calling the pod's own IP over lo goes to the inbound
 * listener; other users' loopback traffic is left alone (unless a loopback range is captured);
 * the proxy's own traffic is never captured.
 */
export function planProxyOwnerExemptions(ctx: PlanContext): void {
  const { config } = ctx;
  const tunnel = String(config.inboundTunnelPort);
  for (const kind of ['uid', 'gid'] as const) {
    const ids = kind === 'uid' ? config.proxyUids : config.proxyGids;
    const owner = kind === 'uid' ? '--uid-owner' : '--gid-owner';
    for (const id of ids) {
      // Istio skips port 53 here only for uids (DNS from the proxy's group still reaches the inbound listener).
      const notTunnel = ctx.dnsCapture && kind === 'uid'
        ? ['-m', 'multiport', '!', '--dports', `53,${tunnel}`]
        : ['!', '--dport', tunnel];
      ctx.add('nat', Chains.output, 'proxy-to-pod-ip', '-o', 'lo', '!', '-d', ctx.loopback, '-p', 'tcp', ...notTunnel, '-m', 'owner', owner, id, '-j', Chains.inRedirect);
      if (!ctx.loopbackCaptured) {
        const notDns = ctx.dnsCapture ? ['-p', 'tcp', '!', '--dport', '53'] : [];
        ctx.add('nat', Chains.output, 'app-loopback', '-o', 'lo', ...notDns, '-m', 'owner', '!', owner, id, '-j', 'RETURN');
      }
      ctx.add('nat', Chains.output, 'proxy-own-traffic', '-m', 'owner', owner, id, '-j', 'RETURN');
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
      ctx.add('nat', Chains.output, 'owner-group-excluded', '-m', 'owner', '--gid-owner', group, '-j', 'RETURN');
    }
  } else if (filter.mode === 'only') {
    const noneOf = filter.groups.flatMap((group) => ['-m', 'owner', '!', '--gid-owner', group]);
    ctx.add('nat', Chains.output, 'owner-group-not-captured', ...noneOf, '-j', 'RETURN');
  }
}

export function planOutboundDestinations(ctx: PlanContext): void {
  const { config } = ctx;
  ctx.add('nat', Chains.output, 'localhost', '-d', ctx.loopback, '-j', 'RETURN');
  for (const cidr of ctx.excludeRanges) {
    ctx.add('nat', Chains.output, 'outbound-range-excluded', '-d', cidr.text, '-j', 'RETURN');
  }
  for (const port of config.outboundPortsInclude) {
    ctx.add('nat', Chains.output, 'outbound-port-included', '-p', 'tcp', '--dport', String(port), '-j', Chains.redirect);
  }
  const include = ctx.includeRanges;
  if (include.all) {
    ctx.add('nat', Chains.output, 'outbound-all', '-j', Chains.redirect);
    for (const name of config.kubeVirtInterfaces) {
      ctx.insert('nat', 'PREROUTING', 1, 'kubevirt-as-outbound', '-i', name, '-j', Chains.redirect);
    }
    return;
  }
  for (const cidr of include.items) {
    for (const name of config.kubeVirtInterfaces) {
      ctx.insert('nat', 'PREROUTING', 1, 'kubevirt-as-outbound', '-i', name, '-d', cidr.text, '-j', Chains.redirect);
    }
    ctx.add('nat', Chains.output, 'outbound-range-included', '-d', cidr.text, '-j', Chains.redirect);
  }
}
