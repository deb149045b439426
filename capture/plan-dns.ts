/**
 * DNS capture: UDP and TCP port 53 to the resolv.conf nameservers (or to anyone, with
 * capture-all) go to the proxy's DNS listener on 15053. Conntrack zones keep the two UDP legs
 * (app↔proxy: zone 2, proxy↔upstream: zone 1) from colliding in conntrack.
 *
 *   nat ISTIO_OUTPUT → ISTIO_OUTPUT_DNS (REDIRECT to 15053)      [only if this family has servers]
 *   raw OUTPUT → ISTIO_OUTPUT_DNS (CT zones by owner and server)
 *   raw PREROUTING → ISTIO_INBOUND (CT zone 1 for server replies) [only if this family has servers]
 */

import { CaptureConstants } from './capture-config.js';
import { Chains } from './rule.js';
import type { PlanContext } from './plan-context.js';

export function planDnsCapture(ctx: PlanContext): void {
  if (!ctx.dnsCapture) return;
  const { config } = ctx;
  const listener = String(CaptureConstants.dnsListenerPort);
  const all = config.captureAllDns;
  const hasTargets = all || ctx.dnsServers.length > 0;

  ctx.add('raw', 'OUTPUT', 'dns-conntrack', '-j', Chains.outputDns);
  if (hasTargets) ctx.add('nat', Chains.output, 'capture-dns', '-j', Chains.outputDns);
  for (const protocol of ['tcp', 'udp']) {
    if (all) {
      ctx.add('nat', Chains.outputDns, 'dns-to-proxy', '-p', protocol, '--dport', '53', '-j', 'REDIRECT', '--to-ports', listener);
    }
    for (const server of all ? [] : ctx.dnsServers) {
      ctx.add('nat', Chains.outputDns, 'dns-to-proxy', '-p', protocol, '--dport', '53', '-d', server, '-j', 'REDIRECT', '--to-ports', listener);
    }
  }

  for (const [ids, owner] of [[config.proxyUids, '--uid-owner'], [config.proxyGids, '--gid-owner']] as const) {
    for (const id of ids) {
      ctx.add('raw', Chains.outputDns, 'dns-zone-proxy-upstream', '-p', 'udp', '--dport', '53', '-m', 'owner', owner, id, '-j', 'CT', '--zone', '1');
      ctx.add('raw', Chains.outputDns, 'dns-zone-proxy-reply', '-p', 'udp', '--sport', listener, '-m', 'owner', owner, id, '-j', 'CT', '--zone', '2');
    }
  }

  if (all) {
    ctx.add('raw', 'PREROUTING', 'dns-conntrack', '-j', Chains.inbound);
    ctx.add('raw', Chains.outputDns, 'dns-zone-app-query', '-p', 'udp', '--dport', '53', '-j', 'CT', '--zone', '2');
    ctx.add('raw', Chains.inbound, 'dns-zone-upstream-reply', '-p', 'udp', '--sport', '53', '-j', 'CT', '--zone', '1');
    return;
  }
  if (ctx.dnsServers.length > 0) ctx.add('raw', 'PREROUTING', 'dns-conntrack', '-j', Chains.inbound);
  for (const server of ctx.dnsServers) {
    ctx.add('raw', Chains.outputDns, 'dns-zone-app-query', '-p', 'udp', '--dport', '53', '-d', server, '-j', 'CT', '--zone', '2');
    ctx.add('raw', Chains.inbound, 'dns-zone-upstream-reply', '-p', 'udp', '--sport', '53', '-s', server, '-j', 'CT', '--zone', '1');
  }
}
