/**
 * Inbound capture: interface exemptions, the tunnel-port bypass, the two REDIRECT chains and the
 * PREROUTING → ISTIO_INBOUND jump with per-port (or all-port) rules, in REDIRECT (nat) or
 * TPROXY (mangle) mode.
 *
 *   nat    PREROUTING -p tcp → ISTIO_INBOUND → ISTIO_IN_REDIRECT (REDIRECT to 15006)
 *   mangle PREROUTING -p tcp → ISTIO_INBOUND → ISTIO_DIVERT (established: mark, accept)
 *                                           → ISTIO_TPROXY (new: TPROXY to 15006, mark)
 */

import { CaptureConstants } from './capture-config.js';
import {
  ACCEPT, connectionMark, ctState, dport, DROP, iif, jump, mark, notDst, notMark, oif, owner, redirect, RESTORE_MARK, RETURN, SAVE_MARK, setMark, src, tcp, tproxy,
} from './match-terms.js';
import { Chains } from './rule.js';
import type { PlanContext } from './plan-context.js';

/** Neither direction of an excluded interface is captured; KubeVirt interfaces are not inbound. */
export function planInterfaceExemptions(ctx: PlanContext): void {
  const { config } = ctx;
  for (const name of config.excludeInterfaces) {
    ctx.add('nat', 'PREROUTING', 'exclude-interface', [iif(name)], RETURN);
    ctx.add('nat', 'OUTPUT', 'exclude-interface', [oif(name)], RETURN);
  }
  if (config.inboundInterceptionMode === 'TPROXY') {
    for (const name of config.excludeInterfaces) {
      ctx.add('mangle', 'PREROUTING', 'exclude-interface', [iif(name)], RETURN);
      ctx.add('mangle', 'OUTPUT', 'exclude-interface', [oif(name)], RETURN);
    }
  }
  for (const name of config.kubeVirtInterfaces) {
    ctx.insert('nat', 'PREROUTING', 1, 'kubevirt-not-inbound', [iif(name)], RETURN);
  }
}

/** Every protocol's INVALID packets, as Istio's iptables rule (its nftables rule limits itself to TCP). */
export function planDropInvalid(ctx: PlanContext): void {
  if (!ctx.config.dropInvalid) return;
  ctx.add('mangle', 'PREROUTING', 'drop-invalid', [ctState('INVALID')], jump(Chains.drop));
  ctx.add('mangle', Chains.drop, 'drop-invalid', [], DROP);
}

/** The chains every plan has: tunnel bypass and the two REDIRECT targets. */
export function planRedirectChains(ctx: PlanContext): void {
  const { config } = ctx;
  ctx.add('nat', Chains.inbound, 'inbound-tunnel-bypass', [tcp, dport('tcp', config.inboundTunnelPort)], RETURN);
  ctx.add('nat', Chains.redirect, 'to-outbound-listener', [tcp], redirect(config.proxyPort));
  ctx.add('nat', Chains.inRedirect, 'to-inbound-listener', [tcp], redirect(config.inboundCapturePort));
}

export function planInboundPorts(ctx: PlanContext): void {
  const { config } = ctx;
  const ports = config.inboundPorts;
  if (!ports.all && ports.items.length === 0) return;
  const tproxyMode = config.inboundInterceptionMode === 'TPROXY';
  const tproxyMark = config.inboundTproxyMark;
  if (tproxyMode) {
    ctx.add('mangle', Chains.divert, 'tproxy-established', [], setMark(tproxyMark));
    ctx.add('mangle', Chains.divert, 'tproxy-established', [], ACCEPT);
    for (const family of ctx.families) {
      ctx.add('mangle', Chains.tproxy, 'tproxy-to-inbound-listener', [tcp, notDst(ctx.loopback(family))], tproxy(config.inboundCapturePort, tproxyMark));
    }
  }
  const table = tproxyMode ? 'mangle' : 'nat';
  ctx.add(table, 'PREROUTING', 'capture-inbound', [tcp], jump(Chains.inbound));

  if (ports.all) {
    for (const port of config.inboundPortsExclude) {
      ctx.add(table, Chains.inbound, 'inbound-port-excluded', [tcp, dport('tcp', port)], RETURN);
    }
    if (tproxyMode) {
      ctx.add('mangle', Chains.inbound, 'inbound-established', [tcp, ctState('RELATED', 'ESTABLISHED')], jump(Chains.divert));
      ctx.add('mangle', Chains.inbound, 'inbound-all-ports', [tcp], jump(Chains.tproxy));
    } else {
      ctx.add('nat', Chains.inbound, 'inbound-all-ports', [tcp], jump(Chains.inRedirect));
    }
    return;
  }
  for (const port of ports.items) {
    if (tproxyMode) {
      ctx.add('mangle', Chains.inbound, 'inbound-established', [tcp, ctState('RELATED', 'ESTABLISHED'), dport('tcp', port)], jump(Chains.divert));
      ctx.add('mangle', Chains.inbound, 'inbound-port', [tcp, dport('tcp', port)], jump(Chains.tproxy));
    } else {
      ctx.add('nat', Chains.inbound, 'inbound-port', [tcp, dport('tcp', port)], jump(Chains.inRedirect));
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
  const tproxyMark = config.inboundTproxyMark;
  const outboundMark = CaptureConstants.outboundMark;
  ctx.add('mangle', 'PREROUTING', 'tproxy-save-mark', [tcp, mark(tproxyMark)], SAVE_MARK);
  ctx.add('mangle', 'OUTPUT', 'tproxy-proxy-loopback', [oif('lo'), tcp, mark(tproxyMark)], RETURN);
  for (const [by, ids] of [['uid', config.proxyUids], ['gid', config.proxyGids]] as const) {
    for (const id of ids) {
      for (const family of ctx.families) {
        ctx.add('mangle', 'OUTPUT', 'tproxy-mark-proxy-to-app', [oif('lo'), tcp, notDst(ctx.loopback(family)), owner(by, id)], setMark(outboundMark));
      }
    }
  }
  ctx.add('mangle', 'OUTPUT', 'tproxy-restore-mark', [tcp, connectionMark(tproxyMark)], RESTORE_MARK);
  ctx.insert('mangle', Chains.inbound, 1, 'tproxy-no-loop', [tcp, mark(tproxyMark)], RETURN);
  for (const family of ctx.families) {
    ctx.insert('mangle', Chains.inbound, 2, 'inbound-passthrough', [iif('lo'), tcp, src(ctx.passthroughSource(family))], RETURN);
  }
  ctx.insert('mangle', Chains.inbound, 3, 'app-to-app-loopback', [iif('lo'), tcp, notMark(outboundMark)], RETURN);
}
