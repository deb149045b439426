/**
 * Renders a family's rules as iptables-restore input: tables in a fixed order, each table's own
 * chains declared (`:NAME - [0:0]`, which under --noflush also empties an existing chain) before
 * any rule, rules in plan order with a `outrigger/<purpose>` comment. Deterministic, so the same
 * plan always renders to the same bytes and the same fingerprint.
 */

import { fingerprint } from './fingerprint.js';
import { type FamilyPlan, isBuiltinChain, type Rule, type Table, Tables } from './rule.js';

export const CommentPrefix = 'outrigger/';
/** The rule that carries the plan's fingerprint (present in every plan). */
const FingerprintPurpose = 'capture-outbound';

export function quoteToken(token: string): string {
  return /^[A-Za-z0-9_.:/,!*+=@-]+$/.test(token) ? token : `"${token.replace(/(["\\])/g, '\\$1')}"`;
}

export function ruleComment(rule: Rule, planFingerprint?: string): string {
  const base = `${CommentPrefix}${rule.purpose}`;
  return planFingerprint && rule.purpose === FingerprintPurpose && rule.chain === 'OUTPUT' ? `${base} plan=${planFingerprint}` : base;
}

export function renderRule(rule: Rule, planFingerprint?: string): string {
  const op = rule.insertAt === undefined ? `-A ${rule.chain}` : `-I ${rule.chain} ${rule.insertAt}`;
  const jumpAt = rule.spec.indexOf('-j');
  const matches = jumpAt >= 0 ? rule.spec.slice(0, jumpAt) : rule.spec;
  const target = jumpAt >= 0 ? rule.spec.slice(jumpAt) : [];
  const comment = ['-m', 'comment', '--comment', ruleComment(rule, planFingerprint)];
  return [op, ...matches, ...comment, ...target].map((t, i) => (i < 2 ? t : quoteToken(t))).join(' ');
}

/** Our chains per table, in order of first use. */
export function declaredChains(rules: readonly Rule[]): Map<Table, string[]> {
  const chains = new Map<Table, string[]>();
  for (const rule of rules) {
    if (isBuiltinChain(rule.chain)) continue;
    const list = chains.get(rule.table) ?? [];
    if (!list.includes(rule.chain)) list.push(rule.chain);
    chains.set(rule.table, list);
  }
  return chains;
}

export function tablesOf(rules: readonly Rule[]): Table[] {
  return Tables.filter((table) => rules.some((r) => r.table === table));
}

/** The plan's fingerprint: a hash of its rules, independent of comments. */
export function planFingerprint(plan: FamilyPlan): string {
  return fingerprint(plan.rules.map((r) => `${r.table} ${r.chain} ${r.insertAt ?? 'A'} ${r.spec.join(' ')}`).join('\n'));
}

/** iptables-restore input that creates this plan in a namespace that has none of our rules. */
export function renderRestore(plan: FamilyPlan): string {
  const fp = planFingerprint(plan);
  const chains = declaredChains(plan.rules);
  const lines: string[] = [];
  for (const table of tablesOf(plan.rules)) {
    lines.push(`*${table}`);
    for (const chain of chains.get(table) ?? []) lines.push(`:${chain} - [0:0]`);
    for (const rule of plan.rules) if (rule.table === table) lines.push(renderRule(rule, fp));
    lines.push('COMMIT');
  }
  return `${lines.join('\n')}\n`;
}
