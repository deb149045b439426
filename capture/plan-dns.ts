/**
 * DNS capture: UDP and TCP port 53 to the resolv.conf nameservers (or to anyone, with
 * capture-all) go to the proxy's DNS listener on 15053. Conntrack zones keep the two UDP legs
 * (app↔proxy: zone 2, proxy↔upstream: zone 1) from colliding in conntrack.
 *
 *   nat ISTIO_OUTPUT → ISTIO_OUTPUT_DNS (REDIRECT to 15053)      [families with servers]
 *   raw OUTPUT → ISTIO_OUTPUT_DNS (CT zones by owner and server)
 *   raw PREROUTING → ISTIO_INBOUND (CT zone 1 for server replies) [families with servers]
 *
 * The two jumps marked "families with servers" are tied to those families when not every planned
 * family has a server (iptables then has no such chain to jump to in the other family).
 */

import { CaptureConstants, type IpFamily } from './capture-config.js';
import { ctZone, dport, dst, jump, owner, redirect, sport, src } from './match-terms.js';
import { Chains } from './rule.js';
import type { PlanContext } from './plan-context.js';

export function planDnsCapture(ctx: PlanContext): void {
  if (!ctx.dnsCapture) return;
  const { config } = ctx;
  const listener = CaptureConstants.dnsListenerPort;
  const all = config.captureAllDns;
  // Families with a server, as the `family` of an address-less jump (undefined: every family).
  const serverFamilies = ctx.dnsServerFamilies;
  const onlyFamily: IpFamily | undefined = serverFamilies.length === 1 && ctx.families.length > 1 ? serverFamilies[0] : undefined;
  const hasTargets = all || serverFamilies.length > 0;
  const targetFamily = all ? undefined : onlyFamily;

  ctx.add('raw', 'OUTPUT', 'dns-conntrack', [], jump(Chains.outputDns));
  if (hasTargets) ctx.add('nat', Chains.output, 'capture-dns', [], jump(Chains.outputDns), targetFamily);
  for (const protocol of ['tcp', 'udp'] as const) {
    if (all) ctx.add('nat', Chains.outputDns, 'dns-to-proxy', [dport(protocol, 53)], redirect(listener));
    for (const server of all ? [] : ctx.dnsServers) {
      ctx.add('nat', Chains.outputDns, 'dns-to-proxy', [dst(server), dport(protocol, 53)], redirect(listener));
    }
  }

  for (const by of ['uid', 'gid'] as const) {
    for (const id of by === 'uid' ? config.proxyUids : config.proxyGids) {
      ctx.add('raw', Chains.outputDns, 'dns-zone-proxy-upstream', [dport('udp', 53), owner(by, id)], ctZone(1));
      ctx.add('raw', Chains.outputDns, 'dns-zone-proxy-reply', [sport('udp', listener), owner(by, id)], ctZone(2));
    }
  }

  if (all) {
    ctx.add('raw', 'PREROUTING', 'dns-conntrack', [], jump(Chains.inbound));
    ctx.add('raw', Chains.outputDns, 'dns-zone-app-query', [dport('udp', 53)], ctZone(2));
    ctx.add('raw', Chains.inbound, 'dns-zone-upstream-reply', [sport('udp', 53)], ctZone(1));
    return;
  }
  if (serverFamilies.length > 0) ctx.add('raw', 'PREROUTING', 'dns-conntrack', [], jump(Chains.inbound), onlyFamily);
  for (const server of ctx.dnsServers) {
    ctx.add('raw', Chains.outputDns, 'dns-zone-app-query', [dport('udp', 53), dst(server)], ctZone(2));
    ctx.add('raw', Chains.inbound, 'dns-zone-upstream-reply', [sport('udp', 53), src(server)], ctZone(1));
  }
}
