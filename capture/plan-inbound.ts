/**
 * Inbound capture: interface exemptions, the tunnel-port bypass, the two REDIRECT chains and the
 * PREROUTING → ISTIO_INBOUND jump with per-port (or all-port) rules, in REDIRECT (nat) or
 * TPROXY (mangle) mode.
 *
 *   nat    PREROUTING -p tcp → ISTIO_INBOUND → ISTIO_IN_REDIRECT (REDIRECT to 15006)
 *   mangle PREROUTING -p tcp → ISTIO_INBOUND → ISTIO_DIVERT (established: mark, accept)
 *                                           → ISTIO_TPROXY (new: TPROXY to 15006, mark)
 */

import { Chains } from './rule.js';
import type { PlanContext } from './plan-context.js';

/** Neither direction of an excluded interface is captured; KubeVirt interfaces are not inbound. */
export function planInterfaceExemptions(ctx: PlanContext): void {
  const { config } = ctx;
  for (const name of config.excludeInterfaces) {
    ctx.add('nat', 'PREROUTING', 'exclude-interface', '-i', name, '-j', 'RETURN');
    ctx.add('nat', 'OUTPUT', 'exclude-interface', '-o', name, '-j', 'RETURN');
  }
  if (config.inboundInterceptionMode === 'TPROXY') {
    for (const name of config.excludeInterfaces) {
      ctx.add('mangle', 'PREROUTING', 'exclude-interface', '-i', name, '-j', 'RETURN');
      ctx.add('mangle', 'OUTPUT', 'exclude-interface', '-o', name, '-j', 'RETURN');
    }
  }
  for (const name of config.kubeVirtInterfaces) {
    ctx.insert('nat', 'PREROUTING', 1, 'kubevirt-not-inbound', '-i', name, '-j', 'RETURN');
  }
}

export function planDropInvalid(ctx: PlanContext): void {
  if (!ctx.config.dropInvalid) return;
  ctx.add('mangle', 'PREROUTING', 'drop-invalid', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', Chains.drop);
  ctx.add('mangle', Chains.drop, 'drop-invalid', '-j', 'DROP');
}

/** The chains every plan has: tunnel bypass and the two REDIRECT targets. */
export function planRedirectChains(ctx: PlanContext): void {
  const { config } = ctx;
  ctx.add('nat', Chains.inbound, 'inbound-tunnel-bypass', '-p', 'tcp', '--dport', String(config.inboundTunnelPort), '-j', 'RETURN');
  ctx.add('nat', Chains.redirect, 'to-outbound-listener', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(config.proxyPort));
  ctx.add('nat', Chains.inRedirect, 'to-inbound-listener', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(config.inboundCapturePort));
}

export function planInboundPorts(ctx: PlanContext): void {
  const { config } = ctx;
  const ports = config.inboundPorts;
  if (!ports.all && ports.items.length === 0) return;
  const tproxy = config.inboundInterceptionMode === 'TPROXY';
  const mark = String(config.inboundTproxyMark);
  if (tproxy) {
    ctx.add('mangle', Chains.divert, 'tproxy-established', '-j', 'MARK', '--set-mark', mark);
    ctx.add('mangle', Chains.divert, 'tproxy-established', '-j', 'ACCEPT');
    ctx.add('mangle', Chains.tproxy, 'tproxy-to-inbound-listener',
      '!', '-d', ctx.loopback, '-p', 'tcp', '-j', 'TPROXY',
      '--tproxy-mark', `${mark}/0xffffffff`, '--on-port', String(config.inboundCapturePort));
  }
  const table = tproxy ? 'mangle' : 'nat';
  ctx.add(table, 'PREROUTING', 'capture-inbound', '-p', 'tcp', '-j', Chains.inbound);

  if (ports.all) {
    for (const port of config.inboundPortsExclude) {
      ctx.add(table, Chains.inbound, 'inbound-port-excluded', '-p', 'tcp', '--dport', String(port), '-j', 'RETURN');
    }
    if (tproxy) {
      ctx.add('mangle', Chains.inbound, 'inbound-established', '-p', 'tcp', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', Chains.divert);
      ctx.add('mangle', Chains.inbound, 'inbound-all-ports', '-p', 'tcp', '-j', Chains.tproxy);
    } else {
      ctx.add('nat', Chains.inbound, 'inbound-all-ports', '-p', 'tcp', '-j', Chains.inRedirect);
    }
    return;
  }
  for (const port of ports.items) {
    const dport = String(port);
    if (tproxy) {
      ctx.add('mangle', Chains.inbound, 'inbound-established', '-p', 'tcp', '--dport', dport, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', Chains.divert);
      ctx.add('mangle', Chains.inbound, 'inbound-port', '-p', 'tcp', '--dport', dport, '-j', Chains.tproxy);
    } else {
      ctx.add('nat', Chains.inbound, 'inbound-port', '-p', 'tcp', '--dport', dport, '-j', Chains.inRedirect);
    }
  }
}

/**
 * TPROXY bookkeeping: keep the mark on the connection, let the proxy's own loopback traffic
 * through, and mark the proxy's outbound→inbound hops (1338) so they are captured once.
 */
export function planTproxyMarks(ctx: PlanContext): void {
  const { config } = ctx;
  if (config.inboundInterceptionMode !== 'TPROXY') return;
  const mark = String(config.inboundTproxyMark);
  const outboundMark = '1338';
  ctx.add('mangle', 'PREROUTING', 'tproxy-save-mark', '-p', 'tcp', '-m', 'mark', '--mark', mark, '-j', 'CONNMARK', '--save-mark');
  ctx.add('mangle', 'OUTPUT', 'tproxy-proxy-loopback', '-p', 'tcp', '-o', 'lo', '-m', 'mark', '--mark', mark, '-j', 'RETURN');
  for (const uid of config.proxyUids) {
    ctx.add('mangle', 'OUTPUT', 'tproxy-mark-proxy-to-app', '!', '-d', ctx.loopback, '-p', 'tcp', '-o', 'lo', '-m', 'owner', '--uid-owner', uid, '-j', 'MARK', '--set-mark', outboundMark);
  }
  for (const gid of config.proxyGids) {
    ctx.add('mangle', 'OUTPUT', 'tproxy-mark-proxy-to-app', '!', '-d', ctx.loopback, '-p', 'tcp', '-o', 'lo', '-m', 'owner', '--gid-owner', gid, '-j', 'MARK', '--set-mark', outboundMark);
  }
  ctx.add('mangle', 'OUTPUT', 'tproxy-restore-mark', '-p', 'tcp', '-m', 'connmark', '--mark', mark, '-j', 'CONNMARK', '--restore-mark');
  ctx.insert('mangle', Chains.inbound, 1, 'tproxy-no-loop', '-p', 'tcp', '-m', 'mark', '--mark', mark, '-j', 'RETURN');
  ctx.insert('mangle', Chains.inbound, 2, 'inbound-passthrough', '-p', 'tcp', '-s', ctx.passthroughSource, '-i', 'lo', '-j', 'RETURN');
  ctx.insert('mangle', Chains.inbound, 3, 'app-to-app-loopback', '-p', 'tcp', '-i', 'lo', '-m', 'mark', '!', '--mark', outboundMark, '-j', 'RETURN');
}
