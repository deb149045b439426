/**
 * What one address family's tables hold, per table and chain, in the kernel's spelling
 * (canonical-rule.ts): read from iptables-save output, or predicted for a plan applied on top of
 * an earlier state (appends after what is there, inserts at their position, every rule with its
 * `outrigger/<purpose>` comment and the plan's fingerprint on nat OUTPUT's jump). Differences are
 * described per table and chain, so a failing test names the chain that came back different.
 */

import { planFingerprint, ruleTokens } from '../../capture/render-restore.js';
import type { FamilyPlan } from '../../capture/rule.js';
import { type CanonicalOptions, canonicalRule, canonicalSaveLine } from './canonical-rule.js';
import { parseRestoreDocument } from './restore-document.js';

/** table → chain → canonical rules in order. User chains are listed even when empty. */
export type ChainState = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

export function chainStateFromSave(save: string, options: CanonicalOptions): ChainState {
  const state = new Map<string, Map<string, string[]>>();
  for (const table of parseRestoreDocument(save, { normalise: (line) => canonicalSaveLine(line, options) })) {
    const chains = new Map<string, string[]>(table.chains.map((chain) => [chain, []]));
    for (const rule of table.rules) {
      const [, chain = '', ...rest] = rule.split(' ');
      const list = chains.get(chain) ?? [];
      list.push(rest.join(' '));
      chains.set(chain, list);
    }
    // A table the kernel instantiated but nobody filled (built-in chains, no rules) holds nothing.
    if (chains.size > 0) state.set(table.table, chains);
  }
  return state;
}

/** `before` with the plan's rules added as iptables-restore adds them; null (no plan) leaves it as it was. */
export function chainStateWithPlan(before: ChainState, plan: FamilyPlan | null, options: CanonicalOptions): ChainState {
  const state = new Map<string, Map<string, string[]>>();
  for (const [table, chains] of before) state.set(table, new Map([...chains].map(([chain, rules]) => [chain, [...rules]])));
  if (!plan) return state;
  const fingerprint = planFingerprint(plan);
  for (const rule of plan.rules) {
    const chains = state.get(rule.table) ?? new Map<string, string[]>();
    state.set(rule.table, chains);
    const list = chains.get(rule.chain) ?? [];
    chains.set(rule.chain, list);
    const text = canonicalRule(ruleTokens(rule, fingerprint), options);
    if (rule.insertAt === undefined) list.push(text);
    else if (rule.insertAt >= 1 && rule.insertAt <= list.length + 1) list.splice(rule.insertAt - 1, 0, text);
    else throw new Error(`the plan inserts at position ${rule.insertAt} of ${rule.table} ${rule.chain}, which holds ${list.length} rules: iptables refuses that`);
  }
  return state;
}

function describeChain(rules: readonly string[] | undefined): string {
  if (!rules) return '    (no such chain)';
  if (rules.length === 0) return '    (empty)';
  return rules.map((rule, i) => `    ${i + 1}. ${rule}`).join('\n');
}

/** One entry per table and chain that differs, with both versions; empty when equal. */
export function describeChainDifferences(label: string, expected: ChainState, actual: ChainState, names = { expected: 'planned', actual: 'kernel' }): string[] {
  const differences: string[] = [];
  for (const table of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(table) ?? new Map<string, readonly string[]>();
    const got = actual.get(table) ?? new Map<string, readonly string[]>();
    for (const chain of new Set([...want.keys(), ...got.keys()])) {
      const a = want.get(chain);
      const b = got.get(chain);
      if (a && b && a.length === b.length && a.every((rule, i) => rule === b[i])) continue;
      const firstDifference = a && b ? a.findIndex((rule, i) => rule !== b[i]) : -1;
      const at = firstDifference >= 0 ? ` (first difference at rule ${firstDifference + 1})` : a && b ? ' (one is longer)' : '';
      differences.push(`${label} ${table} ${chain} differs${at}:\n  ${names.expected}:\n${describeChain(a)}\n  ${names.actual}:\n${describeChain(b)}`);
    }
  }
  return differences;
}
