/**
 * Follows a connection's first packet (conntrack NEW) through netfilter, as the kernel does, over
 * a PathRuleset of one address family:
 *
 *   outbound  route → OUTPUT hook → (NAT changed the destination: route again) → POSTROUTING →
 *             a local destination loops back over lo: PREROUTING → INPUT (nat chains skipped:
 *             the connection's NAT was decided at OUTPUT) → delivered to a local socket;
 *             otherwise it leaves through the route's interface.
 *   inbound   PREROUTING → TPROXY's socket, or (local destination) INPUT → delivered;
 *             otherwise FORWARD → POSTROUTING (not for this pod).
 *
 * At each hook every base chain of the family (iptables tables and nft chains alike) runs in
 * priority order; ACCEPT ends one base chain, DROP and REJECT end the packet; a built-in chain's
 * end applies its policy. nat chains run only until one of them has set up the connection's NAT
 * at that hook (nf_nat's rule: the first binding wins), and not at all for an untracked packet.
 * Each chain is walked by walk-chain.ts (jumps, gotos, returns, statements); marks, connection
 * marks, zones and TPROXY's socket assignment carry across hooks.
 *
 * A rule whose match or target the model cannot evaluate is an uncertain point: each run takes a
 * list of decisions (does it match?; default no) and reports the points it met, so the caller can
 * try the alternatives (explore-path.ts). TPROXY assumes a transparent socket listens on its port.
 * Pure: no I/O.
 */

import type { IpFamily } from '../capture/capture-config.js';
import { parseIp } from '../capture/ip-address.js';
import { type Connection, DefaultAppUser, DefaultInterface, isLocalAddress, isLoopbackAddress, type PodFacts, primaryAddress } from './connection.js';
import { knownAddress, type Packet, type PacketAddress } from './match-term.js';
import type { BaseChainSpec, Hook, PathChain, PathRuleset, PathTable } from './path-model.js';
import { type Disposition, type Pass, PathLimit, type PathRun, type RuleRef, type RunState } from './path-run.js';
import { walk } from './walk-chain.js';

export type { Disposition, Pass, PathRun, PathStep, RuleRef, UncertainPoint } from './path-run.js';

/** The base chains of a hook that see this family, in the order the kernel runs them. */
function baseChains(ruleset: PathRuleset, family: IpFamily, hook: Hook): { table: PathTable; chain: PathChain; base: BaseChainSpec }[] {
  const found: { table: PathTable; chain: PathChain; base: BaseChainSpec; order: number }[] = [];
  let order = 0;
  for (const table of ruleset.tables) {
    if (!table.families.includes(family)) continue;
    for (const chain of table.chains.values()) {
      if (chain.base?.hook === hook) found.push({ table, chain, base: chain.base, order: order++ });
    }
  }
  return found.sort((a, b) => a.base.priority - b.base.priority || a.order - b.order);
}

type HookResult = { readonly kind: 'accept' } | { readonly kind: 'drop' | 'reject'; readonly by?: RuleRef; readonly policy?: { table: PathTable; chain: string } } | { readonly kind: 'unknown'; readonly by: RuleRef };

function runHook(state: RunState, ruleset: PathRuleset, hook: Hook, pass: Pass, natDone: boolean): HookResult {
  state.steps.push({ kind: 'hook', hook, pass });
  let natBound = natDone;
  const chains = baseChains(ruleset, state.family, hook);
  // Two tables' chains at one priority run in the order the kernel registered them, which no dump shows.
  for (let i = 1; i < chains.length; i++) {
    const [a, b] = [chains[i - 1], chains[i]];
    if (a && b && a.base.priority === b.base.priority && a.table !== b.table && a.chain.rules.length > 0 && b.chain.rules.length > 0) {
      const note = `${a.table.name} ${a.chain.name} and ${b.table.name} ${b.chain.name} hook at the same priority (${a.base.priority}); the kernel runs the one made later first, here they run in the order read`;
      if (!state.assumptions.includes(note)) state.assumptions.push(note);
    }
  }
  for (const { table, chain, base } of chains) {
    if (base.type === 'nat' && (natBound || state.packet.untracked)) {
      if (chain.rules.length > 0) {
        const reason = state.packet.untracked ? 'the packet is not tracked, so no NAT' : pass === 'loopback' ? "the connection's NAT was decided at output" : 'an earlier nat chain already set up NAT';
        state.steps.push({ kind: 'skip', table, chain: chain.name, reason });
      }
      continue;
    }
    state.steps.push({ kind: 'enter', table, chain: chain.name, base });
    const result = walk(state, table, chain.name, 0, base.type === 'nat');
    switch (result.kind) {
      case 'fallthrough':
      case 'return': {
        const policy = base.policy;
        state.steps.push({ kind: 'end', table, chain: chain.name, effect: `end of chain: policy ${policy}` });
        if (policy === 'drop') return { kind: 'drop', policy: { table, chain: chain.name } };
        break;
      }
      case 'accept':
        break;
      case 'nat':
        natBound = true;
        break;
      case 'drop':
      case 'reject':
        return result.by ? { kind: result.kind, by: result.by } : { kind: result.kind };
      case 'unknown':
        return result;
    }
  }
  return { kind: 'accept' };
}

function stopped(result: HookResult): Disposition | null {
  if (result.kind === 'accept') return null;
  if (result.kind === 'unknown') return { kind: 'unknown', by: result.by };
  return { kind: result.kind === 'drop' ? 'dropped' : 'rejected', ...(result.by ? { by: result.by } : {}), ...(result.policy ? { policy: result.policy } : {}) };
}

function addressOf(text: string | undefined, label: string, facts: PodFacts): PacketAddress {
  if (text !== undefined) return knownAddress(text, isLocalAddress(text, facts));
  return { text: null, label, local: undefined, loopback: false };
}

/** Follows one connection through the ruleset's tables of its family, with the given decisions at uncertain points. */
export function followPacket(ruleset: PathRuleset, connection: Connection, facts: PodFacts, decisions: readonly boolean[] = []): PathRun {
  const parsed = parseIp(connection.destination);
  if (!parsed) throw new Error(`internal: destination ${connection.destination} is not an address`);
  const family = parsed.family;
  const assumptions: string[] = [];
  const state: RunState = {
    family,
    facts,
    decisions,
    steps: [],
    points: [],
    assumptions,
    packet: undefined as unknown as Packet,
    tproxy: null,
    nat: null,
    visits: 0,
  };
  try {
    const disposition = connection.direction === 'outbound' ? outbound(state, ruleset, connection) : inbound(state, ruleset, connection);
    return { family, steps: state.steps, disposition, points: state.points, assumptions };
  } catch (error) {
    if (!(error instanceof PathLimit)) throw error;
    const ref: RuleRef = { source: 'plan', table: '-', chain: '-', index: 0, rule: { terms: [], actions: [], unknown: [error.message], origin: { text: error.message } } };
    return { family, steps: state.steps, disposition: { kind: 'unknown', by: ref }, points: [...state.points, { ref, reason: error.message, assumed: true }], assumptions };
  }
}

function outbound(state: RunState, ruleset: PathRuleset, c: Connection): Disposition {
  const facts = state.facts;
  if (facts.route?.unreachable !== undefined) return { kind: 'unreachable', reason: facts.route.unreachable };
  const dstLocal = isLocalAddress(c.destination, facts);
  const local = facts.route?.local ?? dstLocal ?? false;
  if (facts.route === undefined && dstLocal === undefined) state.assumptions.push('the destination is outside the pod (give --pod-ip if it is one of the pod\'s addresses)');
  const outInterface = local ? 'lo' : (facts.route?.interface ?? c.interface ?? DefaultInterface);
  if (!local && facts.route === undefined && c.interface === undefined) state.assumptions.push(`it leaves through ${DefaultInterface} (give --interface for another)`);
  let source = c.source ?? facts.route?.source;
  // To the pod's own address the kernel picks that address (127.0.0.1 for 127/8, ::1 for ::1).
  if (source === undefined && dstLocal) source = isLoopbackAddress(c.destination) ? (state.family === 4 ? '127.0.0.1' : '::1') : c.destination;
  if (source === undefined) source = primaryAddress(facts, outInterface, state.family);
  state.packet = {
    family: state.family,
    protocol: c.protocol,
    src: addressOf(source, "the pod's source address", facts),
    dst: knownAddress(c.destination, local),
    sport: c.sourcePort ?? null,
    dport: c.destinationPort,
    iif: '',
    oif: outInterface,
    mark: 0,
    ctmark: 0,
    zone: 0,
    untracked: false,
    uid: c.uid ?? DefaultAppUser.uid,
    gid: c.gid ?? DefaultAppUser.gid,
    socket: true,
  };
  const out = stopped(runHook(state, ruleset, 'output', 'outbound', false));
  if (out) return out;
  const packet = state.packet;
  // NAT changed the destination: the kernel routes the packet again.
  if (state.nat) {
    const nowLocal = packet.dst.local ?? false;
    packet.oif = nowLocal ? 'lo' : packet.oif === 'lo' ? (c.interface ?? DefaultInterface) : packet.oif;
  }
  const post = stopped(runHook(state, ruleset, 'postrouting', 'outbound', false));
  if (post) return post;
  if (packet.oif !== 'lo') {
    if (packet.dst.text === null) throw new Error('internal: a remote destination without an address');
    return { kind: 'remote', address: packet.dst.text, port: packet.dport, interface: packet.oif, ...(state.nat ? { changedBy: state.nat } : {}) };
  }
  // Over loopback: the packet comes back in, its NAT decided, without its socket.
  packet.iif = 'lo';
  packet.oif = '';
  packet.socket = false;
  const pre = stopped(runHook(state, ruleset, 'prerouting', 'loopback', true));
  if (pre) return pre;
  const input = stopped(runHook(state, ruleset, 'input', 'loopback', true));
  if (input) return input;
  return delivered(state);
}

function delivered(state: RunState): Disposition {
  const packet = state.packet;
  if (state.tproxy) return { kind: 'tproxy', port: state.tproxy.port, changedBy: state.tproxy.by };
  return {
    kind: 'local',
    address: packet.dst.text,
    ...(packet.dst.text === null ? { interface: packet.iif } : {}),
    port: packet.dport,
    ...(state.nat ? { changedBy: state.nat } : {}),
  };
}

function inbound(state: RunState, ruleset: PathRuleset, c: Connection): Disposition {
  const facts = state.facts;
  const iif = c.interface ?? DefaultInterface;
  if (c.interface === undefined) state.assumptions.push(`it arrives on ${DefaultInterface} (give --interface for another)`);
  const dstLocal = isLocalAddress(c.destination, facts);
  if (dstLocal === undefined) state.assumptions.push('the destination is one of the pod\'s addresses');
  state.packet = {
    family: state.family,
    protocol: c.protocol,
    src: addressOf(c.source, "the peer's address", { ...facts, addressesComplete: false }),
    dst: knownAddress(c.destination, dstLocal ?? true),
    sport: c.sourcePort ?? null,
    dport: c.destinationPort,
    iif,
    oif: '',
    mark: 0,
    ctmark: 0,
    zone: 0,
    untracked: false,
    uid: -1,
    gid: -1,
    socket: false,
  };
  if (c.source !== undefined && state.packet.src.text !== null && state.packet.src.local === true) state.packet.src = knownAddress(c.source, false);
  const pre = stopped(runHook(state, ruleset, 'prerouting', 'inbound', false));
  if (pre) return pre;
  const packet = state.packet;
  if (!state.tproxy && packet.dst.local === false) {
    const forward = stopped(runHook(state, ruleset, 'forward', 'inbound', false));
    if (forward) return forward;
    return { kind: 'forwarded', address: packet.dst.text ?? c.destination };
  }
  const input = stopped(runHook(state, ruleset, 'input', 'inbound', false));
  if (input) return input;
  return delivered(state);
}
