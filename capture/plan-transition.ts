/**
 * From what a namespace holds now to what the plan wants, as one iptables-restore --noflush
 * input per family (all-or-nothing): declare (and so flush) our chains, delete our old rules in
 * the built-in chains, add the plan's rules, delete chains the plan no longer uses. Returns null
 * when the namespace already holds exactly this plan, so a re-run changes nothing.
 * With an empty plan the same function produces the cleanup.
 */

import { declaredChains, type FamilyPlan, type Table, Tables, tablesOf } from './rule.js';
import { planFingerprint, renderRule } from './render-restore.js';
import type { SavedState } from './saved-rules.js';

export interface Transition {
  /** iptables-restore --noflush input. */
  readonly restoreInput: string;
  /** Tables the input touches (what a rollback must restore). */
  readonly tables: readonly Table[];
}

function desiredCounts(plan: FamilyPlan, table: Table): Map<string, number> {
  const counts = new Map<string, number>();
  for (const rule of plan.rules) if (rule.table === table) counts.set(rule.chain, (counts.get(rule.chain) ?? 0) + 1);
  return counts;
}

function sameCounts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [chain, count] of a) if (b.get(chain) !== count) return false;
  return true;
}

/** True when the saved state carries this plan's fingerprint and exactly its rule counts. */
export function isAlreadyApplied(plan: FamilyPlan, state: SavedState): boolean {
  if (state.fingerprint !== planFingerprint(plan)) return false;
  const chains = declaredChains(plan.rules);
  for (const table of Tables) {
    const saved = state.tables.get(table);
    const wanted = desiredCounts(plan, table);
    const savedCounts = saved?.ruleCounts ?? new Map<string, number>();
    if (!sameCounts(wanted, savedCounts)) return false;
    const wantedChains = [...(chains.get(table) ?? [])].sort();
    const savedChains = [...(saved?.ownChains ?? [])].sort();
    if (wantedChains.join(',') !== savedChains.join(',')) return false;
  }
  return true;
}

export function planTransition(plan: FamilyPlan, state: SavedState): Transition | null {
  if (plan.rules.length > 0 && isAlreadyApplied(plan, state)) return null;
  const fp = plan.rules.length > 0 ? planFingerprint(plan) : undefined;
  const wantedChains = declaredChains(plan.rules);
  const touched = Tables.filter((table) => {
    const saved = state.tables.get(table);
    const hasOld = saved !== undefined && (saved.ownChains.length > 0 || saved.builtinRules.length > 0);
    return hasOld || tablesOf(plan.rules).includes(table);
  });
  if (touched.length === 0) return null;

  const lines: string[] = [];
  for (const table of touched) {
    const saved = state.tables.get(table);
    const wanted: readonly string[] = wantedChains.get(table) ?? [];
    const obsolete = (saved?.ownChains ?? []).filter((chain) => !wanted.includes(chain));
    lines.push(`*${table}`);
    for (const chain of [...wanted, ...obsolete]) lines.push(`:${chain} - [0:0]`);
    for (const rule of saved?.builtinRules ?? []) lines.push(rule.replace(/^-A /, '-D '));
    for (const rule of plan.rules) if (rule.table === table) lines.push(renderRule(rule, fp));
    for (const chain of obsolete) lines.push(`-X ${chain}`);
    lines.push('COMMIT');
  }
  return { restoreInput: `${lines.join('\n')}\n`, tables: touched };
}

/** The empty plan of a family: applying its transition removes everything of ours. */
export function emptyPlan(family: FamilyPlan['family']): FamilyPlan {
  return { family, rules: [] };
}
