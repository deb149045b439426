/**
 * The nftables renderer: the plan's rules (both families) as one `nft -f` script over Istio's
 * three inet tables (nft-tables.ts). Each chain is written in its final order (finalChainOrder),
 * so the script needs no `insert ... index N` (Istio's #58135 came from such an index). Every
 * rule carries a counter (as Istio's) and the comment `outrigger/<purpose>`; nat output's jump
 * carries the plan's fingerprint. A plan without IPv6 starts each base chain with
 * `meta nfproto ipv6 return`: an inet table sees both families, and a pod without IPv6 capture
 * must treat IPv6 as iptables does with no ip6tables rules at all (Istio's nftables rules would
 * capture it).
 *
 * renderNftApply() replaces whatever of ours is there in one transaction. Without state it removes
 * each of our tables (`add table` + `delete table`: a no-op add if it exists), then creates the
 * ones the plan uses; told which of ours exist, it removes only those (removing a table costs the
 * kernel several milliseconds, and a fresh pod has none). Tables are made with `create table`, which
 * refuses (and so the whole transaction changes nothing) if one exists after all: the applier then
 * falls back to the state-free script. renderNftCleanup() only removes. Deterministic.
 */

import type { IpFamily } from './capture-config.js';
import { fingerprint } from './fingerprint.js';
import { type BaseChainSpec, NftBaseChains, NftChainOrder, NftFamily, NftTableOrder, NftTables, nftChainName } from './nft-tables.js';
import { CommentPrefix } from './render-restore.js';
import { type Action, type Chain, finalChainOrder, isBuiltinChain, type MatchTerm, type Rule, type Table } from './rule.js';
import type { RulePurpose } from './rule-purposes.js';

export interface NftRule {
  /** Matches and statements, without the comment. */
  readonly body: string;
  readonly purpose: RulePurpose;
}

export interface NftChain {
  readonly chain: Chain;
  readonly name: string;
  /** Set for a base (hooked) chain. */
  readonly base?: BaseChainSpec;
  readonly rules: readonly NftRule[];
}

export interface NftTable {
  readonly table: Table;
  readonly name: string;
  readonly chains: readonly NftChain[];
}

/** What the plan puts in nftables: the tables it uses, their chains and rules in final order. */
export interface NftLayout {
  readonly tables: readonly NftTable[];
  readonly fingerprint: string;
}

const neq = (negate: boolean): string => (negate ? '!= ' : '');
const ipFamily = (family: IpFamily): string => (family === 4 ? 'ip' : 'ip6');
/** iptables' prefix wildcard `veth+` is nft's `veth*`. */
const interfaceName = (name: string): string => JSON.stringify(name.endsWith('+') ? `${name.slice(0, -1)}*` : name);

export function nftMatch(term: MatchTerm): string {
  switch (term.kind) {
    case 'in-interface': return `iifname ${interfaceName(term.name)}`;
    case 'out-interface': return `oifname ${interfaceName(term.name)}`;
    case 'protocol': return `meta l4proto ${term.protocol}`;
    case 'source': return `${ipFamily(term.family)} saddr ${neq(term.negate)}${term.cidr}`;
    case 'destination': return `${ipFamily(term.family)} daddr ${neq(term.negate)}${term.cidr}`;
    case 'source-port':
    case 'destination-port': {
      const ports = term.ports.length === 1 ? String(term.ports[0]) : `{ ${term.ports.join(', ')} }`;
      return `${term.protocol} ${term.kind === 'source-port' ? 'sport' : 'dport'} ${neq(term.negate)}${ports}`;
    }
    // A name is quoted (it could be an nft keyword); nft resolves it at load, as iptables does.
    case 'owner': return `meta sk${term.by} ${neq(term.negate)}${/^\d+$/.test(term.id) ? term.id : JSON.stringify(term.id)}`;
    case 'mark': return `meta mark ${neq(term.negate)}${term.mark}`;
    case 'connection-mark': return `ct mark ${term.mark}`;
    case 'conntrack-state': return `ct state ${term.states.map((s) => s.toLowerCase()).join(',')}`;
  }
}

/** The statements of an action, with the rule's counter where Istio puts it. */
export function nftStatements(action: Action, family: IpFamily | undefined): string {
  switch (action.kind) {
    case 'return': return 'counter return';
    case 'accept': return 'counter accept';
    case 'drop': return 'counter drop';
    case 'jump': return `counter jump ${nftChainName(action.chain)}`;
    case 'redirect': return `counter redirect to :${action.port}`;
    case 'tproxy': {
      if (family === undefined) throw new Error('a tproxy rule needs an address family (it matches an address)');
      return `tproxy ${ipFamily(family)} to :${action.port} meta mark set ${action.mark} counter accept`;
    }
    case 'set-mark': return `counter meta mark set ${action.mark}`;
    case 'save-mark': return 'counter ct mark set mark';
    case 'restore-mark': return 'counter meta mark set ct mark';
    case 'conntrack-zone': return `counter ct zone set ${action.zone}`;
  }
}

export function nftRuleBody(rule: Rule): string {
  return [...rule.match.map(nftMatch), nftStatements(rule.action, rule.family)].join(' ');
}

const Ipv6Guard: NftRule = { body: 'meta nfproto ipv6 counter return', purpose: 'ipv6-not-captured' };

/**
 * A chain's rules as nftables needs them: after each tproxy rule, a drop with the same matches. nft's
 * `tproxy` statement, when no transparent socket takes the packet (the proxy is not listening yet),
 * stops that rule and lets the chain go on, so the connection would reach the app uncaptured; iptables'
 * TPROXY target drops it. The drop keeps one meaning for both backends (fail closed). Istio's nft rules
 * have no such drop: a deliberate difference (test/integration/conformance-nft.test.ts).
 */
export function withNftOnlyRules(ordered: readonly Rule[]): Rule[] {
  return ordered.flatMap((rule) => (rule.action.kind === 'tproxy' ? [rule, { ...rule, action: { kind: 'drop' as const }, purpose: 'tproxy-no-listener' as const }] : [rule]));
}

export function nftLayout(rules: readonly Rule[], families: readonly IpFamily[]): NftLayout {
  const tables: NftTable[] = [];
  for (const table of NftTableOrder) {
    const chains: NftChain[] = [];
    for (const chain of NftChainOrder[table]) {
      const planned = rules.filter((r) => r.table === table && r.chain === chain);
      if (planned.length === 0) continue;
      const base = isBuiltinChain(chain) ? NftBaseChains[table][chain] : undefined;
      const ordered: NftRule[] = withNftOnlyRules(finalChainOrder(planned, families)).map((rule) => ({ body: nftRuleBody(rule), purpose: rule.purpose }));
      const guard = base && !families.includes(6) ? [Ipv6Guard] : [];
      chains.push({ chain, name: nftChainName(chain), ...(base ? { base } : {}), rules: [...guard, ...ordered] });
    }
    if (chains.length > 0) tables.push({ table, name: NftTables[table], chains });
  }
  const text = tables.flatMap((t) => t.chains.flatMap((c) => [`${t.name} ${c.name} ${c.base ? JSON.stringify(c.base) : ''}`, ...c.rules.map((r) => r.body)]));
  return { tables, fingerprint: fingerprint(text.join('\n')) };
}

function ruleComment(rule: NftRule, table: NftTable, chain: NftChain, planFingerprint: string): string {
  const carries = rule.purpose === 'capture-outbound' && table.table === 'nat' && chain.chain === 'OUTPUT';
  return JSON.stringify(`${CommentPrefix}${rule.purpose}${carries ? ` plan=${planFingerprint}` : ''}`);
}

function removeTable(name: string): string[] {
  return [`add table ${NftFamily} ${name}`, `delete table ${NftFamily} ${name}`];
}

/** Lines that create one table of the layout (it must not exist: `create` refuses otherwise). */
export function createTableLines(table: NftTable, planFingerprint: string): string[] {
  const prefix = `${NftFamily} ${table.name}`;
  const lines = [`create table ${prefix}`];
  for (const chain of table.chains) {
    const hook = chain.base ? ` { type ${chain.base.type} hook ${chain.base.hook} priority ${chain.base.priority} ; }` : '';
    lines.push(`add chain ${prefix} ${chain.name}${hook}`);
  }
  for (const chain of table.chains) {
    for (const rule of chain.rules) lines.push(`add rule ${prefix} ${chain.name} ${rule.body} comment ${ruleComment(rule, table, chain, planFingerprint)}`);
  }
  return lines;
}

/**
 * One transaction that leaves exactly the layout in our tables: whatever was there, or, given
 * `present` (the names of our tables that exist), removing only those.
 */
export function renderNftApply(layout: NftLayout, present?: readonly string[]): string {
  const names = NftTableOrder.map((t) => NftTables[t]).filter((name) => present === undefined || present.includes(name));
  const lines = names.flatMap(removeTable);
  for (const table of layout.tables) lines.push(...createTableLines(table, layout.fingerprint));
  return `${lines.join('\n')}\n`;
}

/** One transaction that removes our tables (and nothing else), whether they exist or not. */
export function renderNftCleanup(): string {
  return `${NftTableOrder.flatMap((t) => removeTable(NftTables[t])).join('\n')}\n`;
}
