/**
 * Rules as data, for every backend. A rule says what it matches (an ordered conjunction of typed
 * terms: interfaces, protocol, addresses by family, ports and port sets, socket owner, marks,
 * conntrack state) and what it does (return, jump, redirect, tproxy, set or save a mark, set a
 * conntrack zone, ...), why it exists (its purpose, see rule-purposes.ts) and which address family
 * it is for (none: every family the plan captures). Renderers derive the backend syntax from it:
 * render-restore.ts (iptables-restore text, one document per family) and render-nft.ts (one nft
 * script for both families). Cleanup, "already applied?" and explanations use the same data.
 *
 * The terms keep the order the planner wrote them in: nft lists a rule's expressions in that
 * order (so the planner follows Istio's nftables rules); iptables stores its header options first
 * whatever the order, so render-restore.ts writes them in its own fixed order.
 */

import type { IpFamily } from './capture-config.js';
import type { RulePurpose } from './rule-purposes.js';

export const Tables = ['mangle', 'nat', 'raw'] as const;
export type Table = (typeof Tables)[number];

/**
 * Istio's chain names, kept so `iptables-save` in a pod reads the same as with istio-init. nft
 * spells the same chains in lower case with dashes (`istio-output`), as Istio's nftables backend.
 */
export const Chains = {
  inbound: 'ISTIO_INBOUND',
  inRedirect: 'ISTIO_IN_REDIRECT',
  output: 'ISTIO_OUTPUT',
  redirect: 'ISTIO_REDIRECT',
  outputDns: 'ISTIO_OUTPUT_DNS',
  divert: 'ISTIO_DIVERT',
  tproxy: 'ISTIO_TPROXY',
  drop: 'ISTIO_DROP',
} as const;
export type OwnChain = (typeof Chains)[keyof typeof Chains];

export const OwnChainNames: readonly string[] = Object.values(Chains);

/** The built-in (hooked) chains capture uses: iptables' names; nft's base chains of the same hook. */
export const BuiltinChains = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] as const;
export type BuiltinChain = (typeof BuiltinChains)[number];
export type Chain = OwnChain | 'PREROUTING' | 'OUTPUT';

export function isBuiltinChain(chain: string): boolean {
  return (BuiltinChains as readonly string[]).includes(chain);
}

export type Protocol = 'tcp' | 'udp';
export const ConntrackStates = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED'] as const;
export type ConntrackState = (typeof ConntrackStates)[number];

/** One condition of a rule. `negate` inverts it (`! -d X`, `ip daddr != X`). */
export type MatchTerm =
  | { readonly kind: 'in-interface'; readonly name: string }
  | { readonly kind: 'out-interface'; readonly name: string }
  /** The layer-4 protocol on its own (`-p tcp`, `meta l4proto tcp`). */
  | { readonly kind: 'protocol'; readonly protocol: Protocol }
  /** An address or range of one family, as canonical CIDR text (`127.0.0.1/32`, `::6/128`). */
  | { readonly kind: 'source' | 'destination'; readonly cidr: string; readonly family: IpFamily; readonly negate: boolean }
  /** One port or a set of ports of a protocol (which the term implies). */
  | { readonly kind: 'source-port' | 'destination-port'; readonly protocol: Protocol; readonly ports: readonly number[]; readonly negate: boolean }
  /** The local socket's owner (output only): a uid or gid number, or a user or group name. */
  | { readonly kind: 'owner'; readonly by: 'uid' | 'gid'; readonly id: string; readonly negate: boolean }
  /** The packet's mark (fwmark). */
  | { readonly kind: 'mark'; readonly mark: number; readonly negate: boolean }
  /** The connection's mark. */
  | { readonly kind: 'connection-mark'; readonly mark: number }
  | { readonly kind: 'conntrack-state'; readonly states: readonly ConntrackState[] };

/** What a rule does once every term matches. */
export type Action =
  | { readonly kind: 'return' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'jump'; readonly chain: OwnChain }
  /** Local redirect (DNAT to the primary address of the incoming interface, or loopback) to a port. */
  | { readonly kind: 'redirect'; readonly port: number }
  /** Transparent proxying to a local port, marking the packet; the packet is accepted. */
  | { readonly kind: 'tproxy'; readonly port: number; readonly mark: number }
  | { readonly kind: 'set-mark'; readonly mark: number }
  /** Copies the packet's mark to its connection (CONNMARK --save-mark, `ct mark set mark`). */
  | { readonly kind: 'save-mark' }
  /** Copies the connection's mark to the packet (CONNMARK --restore-mark, `meta mark set ct mark`). */
  | { readonly kind: 'restore-mark' }
  | { readonly kind: 'conntrack-zone'; readonly zone: number };

export interface Rule {
  readonly table: Table;
  readonly chain: Chain;
  /**
   * 1-based position for an insert (`-I CHAIN N`), counted among the rules of this rule's family
   * (rules for every family count in each); absent for an append. In a built-in chain an insert
   * puts the rule before rules other tools added there.
   */
  readonly insertAt?: number;
  /** The one family this rule is for (it names an address of it); absent: every planned family. */
  readonly family?: IpFamily;
  readonly match: readonly MatchTerm[];
  readonly action: Action;
  /** Why the rule exists; rendered as the comment `outrigger/<purpose>`. */
  readonly purpose: RulePurpose;
}

/** One family's view of a plan: the rules iptables (or ip6tables) gets, in order. */
export interface FamilyPlan {
  readonly family: IpFamily;
  readonly rules: readonly Rule[];
}

/** Whether `rule` applies to `family`. */
export function isForFamily(rule: Rule, family: IpFamily): boolean {
  return rule.family === undefined || rule.family === family;
}

/** The chain a rule jumps to, if it jumps. */
export function jumpTarget(rule: Rule): OwnChain | undefined {
  return rule.action.kind === 'jump' ? rule.action.chain : undefined;
}

/** Our chains per table, in order of first use. */
export function declaredChains(rules: readonly Rule[]): Map<Table, OwnChain[]> {
  const chains = new Map<Table, OwnChain[]>();
  for (const rule of rules) {
    if (isBuiltinChain(rule.chain)) continue;
    const list = chains.get(rule.table) ?? [];
    if (!list.includes(rule.chain as OwnChain)) list.push(rule.chain as OwnChain);
    chains.set(rule.table, list);
  }
  return chains;
}

export function tablesOf(rules: readonly Rule[]): Table[] {
  return Tables.filter((table) => rules.some((r) => r.table === table));
}

/**
 * The rules of one chain in the order they end up in, for backends that write a chain's final
 * order directly (nft): appends go last; an insert at N goes right before the rule that is then
 * the N-th of the inserted rule's families (so an IPv6 twin inserted at the same position as its
 * IPv4 rule lands right after it, as ip6tables and iptables each have it), or last if there is none.
 */
export function finalChainOrder(rules: readonly Rule[], families: readonly IpFamily[]): Rule[] {
  const order: Rule[] = [];
  for (const rule of rules) {
    if (rule.insertAt === undefined) {
      order.push(rule);
      continue;
    }
    const mine = rule.family === undefined ? families : [rule.family];
    const seen = new Map<IpFamily, number>(mine.map((f) => [f, 0]));
    let at = order.length;
    for (let i = 0; i < order.length; i++) {
      const other = order[i]!;
      const shared = mine.filter((f) => isForFamily(other, f));
      if (shared.length > 0 && shared.every((f) => seen.get(f) === rule.insertAt! - 1)) {
        at = i;
        break;
      }
      for (const f of shared) seen.set(f, (seen.get(f) ?? 0) + 1);
    }
    order.splice(at, 0, rule);
  }
  return order;
}
