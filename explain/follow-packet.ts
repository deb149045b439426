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
 * Jumps, gotos and returns follow iptables' and nft's semantics; marks, connection marks, zones
 * and TPROXY's socket assignment carry across hooks.
 *
 * A rule whose match or target the model cannot evaluate is an uncertain point: each run takes a
 * list of decisions (does it match?; default no) and reports the points it met, so the caller can
 * try the alternatives (explore-path.ts). TPROXY assumes a transparent socket listens on its port.
 * Pure: no I/O.
 */

import type { IpFamily } from '../capture/capture-config.js';
import { parseIp } from '../capture/ip-address.js';
import { type Connection, DefaultAppUser, DefaultInterface, isLocalAddress, isLoopbackAddress, type PodFacts, primaryAddress } from './connection.js';
import { knownAddress, matchTerms, type Packet, type PacketAddress } from './match-term.js';
import type { BaseChainSpec, Hook, PathAction, PathChain, PathRule, PathRuleset, PathTable, RuleSource } from './path-model.js';

export interface RuleRef {
  readonly source: RuleSource;
  readonly table: string;
  /** `inet` / `ip` / `ip6` for an nft table. */
  readonly nftFamily?: string;
  readonly chain: string;
  /** 1-based position in its chain. */
  readonly index: number;
  readonly rule: PathRule;
}

export type Pass = 'outbound' | 'loopback' | 'inbound';

export type PathStep =
  | { readonly kind: 'hook'; readonly hook: Hook; readonly pass: Pass }
  | { readonly kind: 'enter'; readonly table: PathTable; readonly chain: string; readonly base?: BaseChainSpec }
  | { readonly kind: 'rule'; readonly ref: RuleRef; readonly effect: string; readonly assumed?: boolean }
  | { readonly kind: 'end'; readonly table: PathTable; readonly chain: string; readonly effect: string }
  | { readonly kind: 'skip'; readonly table: PathTable; readonly chain: string; readonly reason: string };

/** Where the packet ends up. */
export type Disposition =
  /** Delivered to a local socket listening on address:port (null address: the pod's address on `interface`). */
  | { readonly kind: 'local'; readonly address: string | null; readonly interface?: string; readonly port: number; readonly changedBy?: RuleRef }
  /** Handed by TPROXY to the transparent socket on `port` (the original destination kept). */
  | { readonly kind: 'tproxy'; readonly port: number; readonly changedBy: RuleRef }
  /** Sent out of the pod. */
  | { readonly kind: 'remote'; readonly address: string; readonly port: number; readonly interface: string; readonly changedBy?: RuleRef }
  | { readonly kind: 'dropped' | 'rejected'; readonly by?: RuleRef; readonly policy?: { readonly table: PathTable; readonly chain: string } }
  /** Inbound to an address that is not the pod's: forwarded (pods normally drop these). */
  | { readonly kind: 'forwarded'; readonly address: string }
  /** Outbound with no route: connect() fails before any rule sees the packet. */
  | { readonly kind: 'unreachable'; readonly reason: string }
  /** A target the explainer does not evaluate decided the packet's fate. */
  | { readonly kind: 'unknown'; readonly by: RuleRef };

export interface UncertainPoint {
  readonly ref: RuleRef;
  readonly reason: string;
  /** What this run assumed: the rule matched (true) or not. For an unknown target: it decided the fate (true) or had no effect. */
  readonly assumed: boolean;
}

export interface PathRun {
  readonly family: IpFamily;
  readonly steps: readonly PathStep[];
  readonly disposition: Disposition;
  readonly points: readonly UncertainPoint[];
  /** Facts the run had to assume (the route, the pod's addresses). */
  readonly assumptions: readonly string[];
}

/** More nested jumps than this is a loop (iptables refuses loops; a hand-edited dump may not). */
const MaxDepth = 64;
/** Rules evaluated in one run at most (a kube-proxy ruleset has tens of thousands). */
const MaxRuleVisits = 1_000_000;

class PathLimit extends Error {}

type ChainResult =
  | { readonly kind: 'fallthrough' | 'return' }
  | { readonly kind: 'accept' | 'drop' | 'reject'; readonly by?: RuleRef }
  | { readonly kind: 'nat'; readonly by: RuleRef }
  | { readonly kind: 'unknown'; readonly by: RuleRef };

interface RunState {
  readonly family: IpFamily;
  readonly facts: PodFacts;
  readonly decisions: readonly boolean[];
  readonly steps: PathStep[];
  readonly points: UncertainPoint[];
  readonly assumptions: string[];
  packet: Packet;
  tproxy: { port: number; by: RuleRef } | null;
  nat: RuleRef | null;
  visits: number;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function describeAction(action: PathAction): string {
  switch (action.kind) {
    case 'continue': return 'no target: next rule';
    case 'return': return 'return';
    case 'accept': return 'accept';
    case 'drop': return 'drop';
    case 'reject': return 'reject';
    case 'jump': return `jump to ${action.chain}`;
    case 'goto': return `go to ${action.chain}`;
    case 'redirect': return action.port === undefined ? 'REDIRECT (port kept)' : `REDIRECT to port ${action.port}`;
    case 'dnat': return `DNAT to ${action.address ?? '(address kept)'}${action.port !== undefined ? `:${action.port}` : ''}`;
    case 'snat': return 'source NAT';
    case 'tproxy': return `TPROXY to port ${action.port}${action.mark !== undefined ? ` (mark ${hex(action.mark)})` : ''}`;
    case 'set-mark': return `mark set ${hex(action.value)}${action.mask !== 0xffffffff ? `/${hex(action.mask)}` : ''}`;
    case 'save-mark': return 'connection mark set from the packet mark';
    case 'restore-mark': return 'packet mark set from the connection mark';
    case 'set-connection-mark': return `connection mark set ${hex(action.value)}`;
    case 'conntrack-zone': return `conntrack zone ${action.zone}`;
    case 'notrack': return 'not tracked by conntrack';
    case 'log': return 'logged';
    case 'unknown': return `${action.text} (not evaluated)`;
  }
}

function chainOf(table: PathTable, name: string): PathChain {
  const chain = table.chains.get(name);
  if (!chain) throw new Error(`internal: chain ${name} missing from table ${table.name}`);
  return chain;
}

/** Takes the next uncertain point's decision (default: no). */
function decide(state: RunState, ref: RuleRef, reason: string): boolean {
  const assumed = state.decisions[state.points.length] ?? false;
  state.points.push({ ref, reason, assumed });
  return assumed;
}

function walk(state: RunState, table: PathTable, chainName: string, depth: number, natAllowed: boolean, caller?: string): ChainResult {
  if (depth > MaxDepth) throw new PathLimit(`more than ${MaxDepth} nested jumps (a loop through ${chainName}?)`);
  const chain = chainOf(table, chainName);
  const nft = table.nftFamily !== undefined;
  if (depth > 0) state.steps.push({ kind: 'enter', table, chain: chainName });
  for (let i = 0; i < chain.rules.length; i++) {
    if (++state.visits > MaxRuleVisits) throw new PathLimit(`more than ${MaxRuleVisits} rules on one path`);
    const rule = chain.rules[i] as PathRule;
    const ref: RuleRef = { source: table.source, table: table.name, ...(table.nftFamily ? { nftFamily: table.nftFamily } : {}), chain: chainName, index: i + 1, rule };
    let matched = matchTerms(rule.terms, state.packet, nft);
    if (matched === true && rule.unknown.length > 0) matched = { unknown: `${rule.unknown.join('; ')}: not evaluated` };
    let assumed: boolean | undefined;
    if (matched !== true && matched !== false) {
      assumed = decide(state, ref, matched.unknown);
      if (!assumed) {
        state.steps.push({ kind: 'rule', ref, effect: 'assumed not to match', assumed: false });
        continue;
      }
    } else if (!matched) continue;
    const result = runActions(state, table, ref, depth, natAllowed, assumed, caller);
    if (result === 'next') continue;
    return result;
  }
  if (depth > 0) state.steps.push({ kind: 'end', table, chain: chainName, effect: `end of chain: back to ${caller ?? 'the calling chain'}` });
  return { kind: 'fallthrough' };
}

function runActions(state: RunState, table: PathTable, ref: RuleRef, depth: number, natAllowed: boolean, assumed: boolean | undefined, caller: string | undefined): ChainResult | 'next' {
  const packet = state.packet;
  const effects: string[] = [];
  const record = (): void => {
    state.steps.push({ kind: 'rule', ref, effect: effects.join(', '), ...(assumed !== undefined ? { assumed } : {}) });
  };
  for (const action of ref.rule.actions) {
    switch (action.kind) {
      case 'continue':
      case 'log':
        effects.push(describeAction(action));
        continue;
      case 'set-mark':
        packet.mark = ((packet.mark & ~action.mask) ^ action.value) >>> 0;
        effects.push(describeAction(action));
        continue;
      case 'save-mark':
        packet.ctmark = packet.mark;
        effects.push(describeAction(action));
        continue;
      case 'restore-mark':
        packet.mark = packet.ctmark;
        effects.push(describeAction(action));
        continue;
      case 'set-connection-mark':
        packet.ctmark = ((packet.ctmark & ~action.mask) ^ action.value) >>> 0;
        effects.push(describeAction(action));
        continue;
      case 'conntrack-zone':
        packet.zone = action.zone;
        effects.push(describeAction(action));
        continue;
      case 'notrack':
        packet.untracked = true;
        effects.push(describeAction(action));
        continue;
      case 'jump':
      case 'goto': {
        effects.push(describeAction(action));
        record();
        const result = walk(state, table, action.chain, depth + 1, natAllowed, ref.chain);
        if (result.kind === 'fallthrough' || result.kind === 'return') {
          if (action.kind === 'goto') return { kind: 'return' };
          return 'next';
        }
        return result;
      }
      case 'return':
        effects.push(depth > 0 ? `return to ${caller ?? 'the calling chain'}` : 'return: end of this chain');
        record();
        return { kind: 'return' };
      case 'accept':
        effects.push('accept');
        record();
        return { kind: 'accept', by: ref };
      case 'drop':
      case 'reject':
        effects.push(action.kind);
        record();
        return { kind: action.kind, by: ref };
      case 'snat':
        effects.push(describeAction(action));
        record();
        return { kind: 'accept', by: ref };
      case 'redirect':
      case 'dnat': {
        effects.push(describeAction(action));
        record();
        if (!natAllowed) return { kind: 'accept', by: ref };
        applyNat(state, action);
        state.nat = ref;
        return { kind: 'nat', by: ref };
      }
      case 'tproxy': {
        if (action.family !== undefined && action.family !== packet.family) {
          effects.push(`${describeAction(action)}: not this family, the rule stops`);
          record();
          return 'next';
        }
        const listeners = state.facts.transparentListeners;
        if (listeners && !listeners.some((l) => l.family === packet.family && l.port === action.port)) {
          effects.push(`${describeAction(action)}: no transparent socket listens on port ${action.port}`);
          record();
          // xt_TPROXY drops the packet; nft's tproxy statement ends the rule and the chain goes on.
          return table.nftFamily === undefined ? { kind: 'drop', by: ref } : 'next';
        }
        effects.push(describeAction(action));
        if (!listeners) state.assumptions.push(`a transparent socket (the proxy's inbound listener) listens on port ${action.port}, as TPROXY needs`);
        state.tproxy = { port: action.port, by: ref };
        if (action.mark !== undefined) packet.mark = ((packet.mark & ~(action.mask ?? 0xffffffff)) ^ action.mark) >>> 0;
        // iptables' TPROXY accepts; nft's tproxy statement lets the rule's next statements run.
        if (table.nftFamily === undefined) {
          record();
          return { kind: 'accept', by: ref };
        }
        continue;
      }
      case 'unknown': {
        effects.push(describeAction(action));
        const decided = decide(state, ref, `its target ${action.text} is not evaluated: it may end or change the path`);
        if (decided) {
          record();
          return { kind: 'unknown', by: ref };
        }
        effects.push('assumed to have no effect');
        continue;
      }
    }
  }
  record();
  return 'next';
}

function applyNat(state: RunState, action: Extract<PathAction, { kind: 'redirect' | 'dnat' }>): void {
  const packet = state.packet;
  if (action.kind === 'redirect') {
    // REDIRECT: loopback for locally generated packets, else the incoming interface's (primary) address.
    if (packet.iif === '') {
      packet.dst = knownAddress(packet.family === 4 ? '127.0.0.1' : '::1', true);
    } else {
      const address = primaryAddress(state.facts, packet.iif, packet.family);
      packet.dst = address ? knownAddress(address, true) : { text: null, label: `the pod's address on ${packet.iif}`, local: true, loopback: false };
    }
  } else if (action.address !== undefined) {
    const parsed = parseIp(action.address);
    if (parsed) packet.dst = knownAddress(action.address, isLocalAddress(action.address, state.facts));
  }
  if (action.port !== undefined) packet.dport = action.port;
}

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
  for (const { table, chain, base } of baseChains(ruleset, state.family, hook)) {
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
