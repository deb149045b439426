/**
 * Walks one chain as iptables and nft do: each rule's terms against the packet (match-term.ts),
 * then its statements in order: marks, connection marks and zones change the packet and go on;
 * jump and goto walk the target chain (a fall-through returns to the caller, or for goto to the
 * caller's caller); return, accept, drop and reject end the walk; REDIRECT and DNAT set up the
 * connection's NAT in a nat chain; TPROXY hands the packet to a transparent socket (iptables'
 * target accepts; nft's statement lets the rule go on, and ends the rule when no such socket
 * listens). A rule it cannot evaluate, or a target it does not know, is an uncertain point whose
 * answer comes from the run's decisions. Loops and huge rulesets stop the run (PathLimit).
 */

import { parseIp } from '../capture/ip-address.js';
import { isLocalAddress, primaryAddress } from './connection.js';
import { knownAddress, matchTerms } from './match-term.js';
import type { PathAction, PathChain, PathRule, PathTable } from './path-model.js';
import { type ChainResult, PathLimit, type RuleRef, type RunState } from './path-run.js';

/** More nested jumps than this is a loop (iptables refuses loops; a hand-edited dump may not). */
const MaxDepth = 64;
/** Rules evaluated in one run at most (a kube-proxy ruleset has tens of thousands). */
const MaxRuleVisits = 1_000_000;

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

export function chainOf(table: PathTable, name: string): PathChain {
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

export function walk(state: RunState, table: PathTable, chainName: string, depth: number, natAllowed: boolean, caller?: string): ChainResult {
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

/** iptables' --set-xmark (and nft's `mark set`): clear the mask's bits, then XOR the value in. */
const xmark = (current: number, value: number, mask: number): number => ((current & ~mask) ^ value) >>> 0;

/**
 * The statements that only change the packet (marks, connection marks, zones, notrack) or nothing
 * (no target, LOG) and let the rule go on: applies one and says true; false for every other action.
 */
function changePacket(packet: RunState['packet'], action: PathAction): boolean {
  switch (action.kind) {
    case 'continue':
    case 'log':
      return true;
    case 'set-mark':
      packet.mark = xmark(packet.mark, action.value, action.mask);
      return true;
    case 'save-mark':
      packet.ctmark = packet.mark;
      return true;
    case 'restore-mark':
      packet.mark = packet.ctmark;
      return true;
    case 'set-connection-mark':
      packet.ctmark = xmark(packet.ctmark, action.value, action.mask);
      return true;
    case 'conntrack-zone':
      packet.zone = action.zone;
      return true;
    case 'notrack':
      packet.untracked = true;
      return true;
    default:
      return false;
  }
}

function runActions(state: RunState, table: PathTable, ref: RuleRef, depth: number, natAllowed: boolean, assumed: boolean | undefined, caller: string | undefined): ChainResult | 'next' {
  const packet = state.packet;
  const effects: string[] = [];
  const record = (): void => {
    state.steps.push({ kind: 'rule', ref, effect: effects.join(', '), ...(assumed !== undefined ? { assumed } : {}) });
  };
  for (const action of ref.rule.actions) {
    if (changePacket(packet, action)) {
      effects.push(describeAction(action));
      continue;
    }
    switch (action.kind) {
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
        if (action.mark !== undefined) packet.mark = xmark(packet.mark, action.mark, action.mask ?? 0xffffffff);
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

