/**
 * What a capture plan puts in the kernel, as PathTables, without a kernel: the iptables view
 * (per planned family, each built-in chain in the order iptables ends up with after the plan's
 * inserts, spelled as iptables-save prints it) or the native nftables view (Istio's three inet
 * tables, each chain in its final order, with the IPv6 guard of a plan without IPv6, spelled as
 * render-nft.ts writes it). Both come from the same planned rules (capture/rule.ts), so explaining
 * flags or a manifest follows the rules outrigger would apply.
 */

import type { IpFamily } from '../capture/capture-config.js';
import { NftBaseChains, NftChainOrder, NftTableOrder, NftTables, nftChainName } from '../capture/nft-tables.js';
import type { CapturePlan } from '../capture/plan-capture.js';
import { nftRuleBody, withNftOnlyRules } from '../capture/render-nft.js';
import { quoteToken, ruleTokens } from '../capture/render-restore.js';
import { type Action, type Chain, finalChainOrder, isBuiltinChain, isForFamily, type MatchTerm, type Rule, type Table, Tables } from '../capture/rule.js';
import { FullMask, iptablesBaseChain, iptablesInterface, type PathAction, type PathChain, type PathRule, type PathTable, type Term } from './path-model.js';

export function termOf(term: MatchTerm): Term {
  switch (term.kind) {
    case 'in-interface':
    case 'out-interface':
      return { kind: term.kind, names: [iptablesInterface(term.name)], negate: false };
    case 'protocol':
      return { kind: 'protocol', protocols: [term.protocol], negate: false };
    case 'source':
    case 'destination':
      return { kind: term.kind, family: term.family, cidrs: [term.cidr], negate: term.negate };
    case 'source-port':
    case 'destination-port':
      return { kind: term.kind, protocol: term.protocol, ranges: term.ports.map((p) => [p, p] as const), negate: term.negate };
    case 'owner':
      return { kind: 'owner', by: term.by, ids: [/^\d+$/.test(term.id) ? [Number(term.id), Number(term.id)] : term.id], negate: term.negate };
    case 'mark':
      return { kind: 'mark', value: term.mark, mask: FullMask, negate: term.negate };
    case 'connection-mark':
      return { kind: 'connection-mark', value: term.mark, mask: FullMask, negate: false };
    case 'conntrack-state':
      return { kind: 'conntrack-state', states: [...term.states].sort(), negate: false };
  }
}

/** The actions as the backend states them: nft's tproxy rule is `tproxy ... meta mark set M accept`; iptables' TPROXY sets the mark and accepts by itself. */
export function actionsOf(action: Action, chainName: (chain: string) => string, family: IpFamily | undefined, nft: boolean): PathAction[] {
  switch (action.kind) {
    case 'return': case 'accept': case 'drop': case 'save-mark': case 'restore-mark':
      return [{ kind: action.kind }];
    case 'jump': return [{ kind: 'jump', chain: chainName(action.chain) }];
    case 'redirect': return [{ kind: 'redirect', port: action.port }];
    case 'tproxy':
      return nft
        ? [{ kind: 'tproxy', port: action.port, ...(family !== undefined ? { family } : {}) }, { kind: 'set-mark', value: action.mark, mask: FullMask }, { kind: 'accept' }]
        : [{ kind: 'tproxy', port: action.port, mark: action.mark, mask: FullMask }];
    case 'set-mark': return [{ kind: 'set-mark', value: action.mark, mask: FullMask }];
    case 'conntrack-zone': return [{ kind: 'conntrack-zone', zone: action.zone }];
  }
}

function pathRule(rule: Rule, text: string, chainName: (chain: string) => string, nft: boolean): PathRule {
  return {
    terms: rule.match.map(termOf),
    actions: actionsOf(rule.action, chainName, rule.family, nft),
    unknown: [],
    purpose: rule.purpose,
    comment: `outrigger/${rule.purpose}`,
    origin: { text },
  };
}

const identity = (chain: string): string => chain;

/** The iptables view: one table per (family, table) the plan uses. */
export function iptablesTablesOf(plan: CapturePlan): PathTable[] {
  const tables: PathTable[] = [];
  for (const family of plan.families) {
    const rules = plan.rules.filter((r) => isForFamily(r, family));
    for (const table of Tables) {
      const ofTable = rules.filter((r) => r.table === table);
      if (ofTable.length === 0) continue;
      const chains = new Map<string, PathChain>();
      const names = [...new Set<string>(ofTable.map((r) => r.chain))];
      for (const name of names) {
        const ordered = finalChainOrder(ofTable.filter((r) => r.chain === name), [family]);
        const base = isBuiltinChain(name) ? iptablesBaseChain(table, name, 'accept') : undefined;
        chains.set(name, {
          name,
          ...(base ? { base } : {}),
          rules: ordered.map((rule) => pathRule(rule, ['-A', rule.chain, ...ruleTokens(rule).map(quoteToken)].join(' '), identity, false)),
        });
      }
      tables.push({ source: 'plan', name: table, families: [family], chains });
    }
  }
  return tables;
}

/** The native nftables view: Istio's inet tables, as render-nft.ts lays them out. */
export function nftTablesOf(plan: CapturePlan): PathTable[] {
  const tables: PathTable[] = [];
  for (const table of NftTableOrder) {
    const chains = new Map<string, PathChain>();
    for (const chain of NftChainOrder[table]) {
      const planned = plan.rules.filter((r) => r.table === table && r.chain === chain);
      if (planned.length === 0) continue;
      const spec = isBuiltinChain(chain) ? NftBaseChains[table as Table][chain as Chain] : undefined;
      const rules = withNftOnlyRules(finalChainOrder(planned, plan.families)).map((rule) => pathRule(rule, `${nftRuleBody(rule)} comment "outrigger/${rule.purpose}"`, nftChainName, true));
      const guard: PathRule[] = spec && !plan.families.includes(6)
        ? [{ terms: [{ kind: 'family', family: 6, negate: false }], actions: [{ kind: 'return' }], unknown: [], purpose: 'ipv6-not-captured', comment: 'outrigger/ipv6-not-captured', origin: { text: 'meta nfproto ipv6 counter return comment "outrigger/ipv6-not-captured"' } }]
        : [];
      const name = nftChainName(chain);
      chains.set(name, { name, ...(spec ? { base: { hook: spec.hook, priority: spec.priority, type: spec.type, policy: 'accept' as const } } : {}), rules: [...guard, ...rules] });
    }
    if (chains.size > 0) tables.push({ source: 'plan', name: NftTables[table], nftFamily: 'inet', families: [4, 6], chains });
  }
  return tables;
}
