/**
 * The packet-path model the explainer evaluates: rulesets as read from a dump, a live namespace or
 * a plan, in one shape whatever the backend. It is a superset of the planner's rule model
 * (capture/rule.ts): the same terms and actions, plus what other tools' rules use that can still be
 * evaluated exactly (negated interfaces and protocols, port ranges, masked marks, address types,
 * the nft family, DNAT, REJECT, jumps to any chain). A rule carries its raw text and where it was
 * read, its purpose when it is one of ours (`outrigger/<purpose>` comment), and the parts of it
 * the model cannot express (`unknown`): such a rule is kept and named, never guessed.
 *
 * A ruleset is a list of hooked (base) chains with their priority, each in a table that also
 * holds the chains they jump to: iptables' built-in chains become base chains with the priority of
 * their table; nft base chains keep theirs. Limits: only what decides where a new connection's
 * first packet goes is modelled (no fragments, ICMP types, rate limits, sets by name).
 */

import type { IpFamily } from '../capture/capture-config.js';
import type { RulePurpose } from '../capture/rule-purposes.js';

export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
export const Hooks: readonly Hook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

/** `tcp`, `udp`, or any other protocol by name (`icmp`, `sctp`) or number. */
export type ProtocolName = string;

/** An inclusive port range; a single port is `[p, p]`. */
export type PortRange = readonly [number, number];

export type AddressType = 'local' | 'unicast' | 'loopback' | 'other';

export interface InterfaceName {
  readonly name: string;
  /** Matches every interface whose name starts with `name`. */
  readonly prefix: boolean;
}

/** iptables' spelling: `veth+` is a prefix. */
export function iptablesInterface(text: string): InterfaceName {
  return text.endsWith('+') ? { name: text.slice(0, -1), prefix: true } : { name: text, prefix: false };
}

/** One condition. `negate` inverts it, except that a term of another family or protocol never matches (as nft and iptables have it). */
export type Term =
  /** `meta nfproto ipv4|ipv6` (nft inet tables). */
  | { readonly kind: 'family'; readonly family: IpFamily; readonly negate: boolean }
  /** Interface names; iptables' trailing `+` and nft's trailing `*` make a name a prefix. */
  | { readonly kind: 'in-interface' | 'out-interface'; readonly names: readonly InterfaceName[]; readonly negate: boolean }
  | { readonly kind: 'protocol'; readonly protocols: readonly ProtocolName[]; readonly negate: boolean }
  /** CIDRs of one family in canonical text; matches when the address is in any of them. */
  | { readonly kind: 'source' | 'destination'; readonly family: IpFamily; readonly cidrs: readonly string[]; readonly negate: boolean }
  /** Ports of `protocol` (`tcp`, `udp`, or `any` for nft's `th`): implies that protocol. */
  | { readonly kind: 'source-port' | 'destination-port'; readonly protocol: 'tcp' | 'udp' | 'any'; readonly ranges: readonly PortRange[]; readonly negate: boolean }
  /** Socket owner: numeric ranges, or a name the dump kept (resolved only if the connection names the same). */
  | { readonly kind: 'owner'; readonly by: 'uid' | 'gid'; readonly ids: readonly (PortRange | string)[]; readonly negate: boolean }
  /** Whether the packet has a local socket at all (`-m owner --socket-exists`). */
  | { readonly kind: 'socket-exists'; readonly negate: boolean }
  /** `(mark & mask) == value`. */
  | { readonly kind: 'mark' | 'connection-mark'; readonly value: number; readonly mask: number; readonly negate: boolean }
  | { readonly kind: 'conntrack-state'; readonly states: readonly string[]; readonly negate: boolean }
  /** `-m addrtype --dst-type LOCAL`, `fib daddr type local`. */
  | { readonly kind: 'address-type'; readonly of: 'source' | 'destination'; readonly types: readonly AddressType[]; readonly negate: boolean }
  /** `--syn` / `tcp flags syn`: true for a TCP connection's first packet. */
  | { readonly kind: 'tcp-syn'; readonly negate: boolean };

export type PathAction =
  | { readonly kind: 'continue' }
  | { readonly kind: 'return' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'reject' }
  | { readonly kind: 'jump' | 'goto'; readonly chain: string }
  /** REDIRECT: to a local address (loopback in output, the incoming interface's address in prerouting); port kept when absent. */
  | { readonly kind: 'redirect'; readonly port?: number }
  | { readonly kind: 'dnat'; readonly address?: string; readonly port?: number }
  /** SNAT / MASQUERADE: the source changes; the destination and the verdict do not. */
  | { readonly kind: 'snat' }
  /** TPROXY: hand the packet to a transparent socket on `port`; `family` limits nft's `tproxy ip|ip6` to one family. */
  | { readonly kind: 'tproxy'; readonly port: number; readonly address?: string; readonly mark?: number; readonly mask?: number; readonly family?: IpFamily }
  /** `mark = (mark & ~mask) ^ value` (iptables' --set-xmark; nft's `meta mark set V` has mask 0xffffffff). */
  | { readonly kind: 'set-mark'; readonly value: number; readonly mask: number }
  | { readonly kind: 'save-mark' }
  | { readonly kind: 'restore-mark' }
  | { readonly kind: 'set-connection-mark'; readonly value: number; readonly mask: number }
  | { readonly kind: 'conntrack-zone'; readonly zone: number }
  | { readonly kind: 'notrack' }
  /** A target with no effect on the path (LOG, NFLOG, counter only). */
  | { readonly kind: 'log' }
  /** A target the model does not know: what happens next is unknown. */
  | { readonly kind: 'unknown'; readonly text: string };

/** Where a rule was read: a dump's line, or a planned rule. */
export interface RuleOrigin {
  /** 1-based line in the input, when read from text. */
  readonly line?: number;
  /** The rule as the source spells it (`-A OUTPUT -p tcp ... -j ISTIO_OUTPUT`, an nft rule line). */
  readonly text: string;
}

export interface PathRule {
  readonly terms: readonly Term[];
  /** Statements in order; all but the last are non-terminating (nft's `meta mark set X accept`). */
  readonly actions: readonly PathAction[];
  /** Parts of the rule's conditions the model cannot evaluate, as written. Non-empty: the rule may or may not match. */
  readonly unknown: readonly string[];
  /** Set when the rule carries `outrigger/<purpose>`. */
  readonly purpose?: RulePurpose;
  /** The comment, if any (ours carry `outrigger/<purpose>`). */
  readonly comment?: string;
  readonly origin: RuleOrigin;
}

export type ChainType = 'filter' | 'nat' | 'route';

export interface BaseChainSpec {
  readonly hook: Hook | string;
  readonly priority: number;
  readonly type: ChainType;
  /** What happens when the chain ends: accept (the default) or drop. */
  readonly policy: 'accept' | 'drop';
}

export interface PathChain {
  readonly name: string;
  /** Set for a hooked chain. */
  readonly base?: BaseChainSpec;
  readonly rules: readonly PathRule[];
}

/** Which program's view a table comes from, for naming it in a path. */
export type RuleSource = 'iptables-legacy' | 'iptables-nft' | 'iptables' | 'nftables' | 'plan';

export interface PathTable {
  readonly source: RuleSource;
  /** `nat`, `mangle` (iptables) or `istio-proxy-nat` (nft). */
  readonly name: string;
  /** The families the table sees: one for iptables and nft `ip`/`ip6` tables, both for `inet`. */
  readonly families: readonly IpFamily[];
  /** `inet`, `ip`, `ip6` for nft; absent for iptables. */
  readonly nftFamily?: string;
  readonly chains: ReadonlyMap<string, PathChain>;
}

/** Everything the explainer evaluates, from one or more inputs. */
export interface PathRuleset {
  readonly tables: readonly PathTable[];
  /** What the inputs were (`iptables-nft-save (IPv4)`, `nft list ruleset`, `plan`), for the output. */
  readonly inputs: readonly string[];
  /** Facts about reading it that the explanation should state (e.g. a family read from no dump). */
  readonly notes: readonly string[];
}

/** The standard priorities of iptables' tables (and nft's names for them). */
export const TablePriorities: Readonly<Record<string, number>> = {
  raw: -300,
  mangle: -150,
  nat: -100,
  filter: 0,
  security: 50,
};

/** iptables' built-in chains per table, with the hook and chain type nft gives them. */
export function iptablesBaseChain(table: string, chain: string, policy: 'accept' | 'drop'): BaseChainSpec | undefined {
  const hooks: Readonly<Record<string, Hook>> = { PREROUTING: 'prerouting', INPUT: 'input', FORWARD: 'forward', OUTPUT: 'output', POSTROUTING: 'postrouting' };
  const hook = hooks[chain];
  if (!hook) return undefined;
  const base = TablePriorities[table];
  if (base === undefined) return undefined;
  // nat's INPUT and POSTROUTING are source NAT, at priority 100.
  const priority = table === 'nat' && (hook === 'input' || hook === 'postrouting') ? 100 : base;
  const type: ChainType = table === 'nat' ? 'nat' : table === 'mangle' && hook === 'output' ? 'route' : 'filter';
  return { hook, priority, type, policy };
}

export const FullMask = 0xffffffff;
