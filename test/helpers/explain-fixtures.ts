/**
 * The explainer's dump fixtures (test/fixtures/explain/, made from a real kernel by
 * make-fixtures.sh): their text, the flags each was applied with (fixtures.json), and what those
 * flags plan, laid out as the backend lays it out (explain/plan-ruleset.ts), for tests that check a
 * parsed dump against the plan it came from. Owner rules and chains compare as sets of terms: the
 * kernel reorders options (iptables-save prints header options first) and drops implied ones (nft
 * omits `meta l4proto tcp` before `tcp dport`).
 */

import { readFileSync } from 'node:fs';
import type { HostFacts } from '../../capture/capture-config.js';
import { planCapture } from '../../capture/plan-capture.js';
import type { PathRule, PathTable, Term } from '../../explain/path-model.js';
import { iptablesTablesOf, nftTablesOf } from '../../explain/plan-ruleset.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';

export const FixtureDir = new URL('../fixtures/explain/', import.meta.url);

interface FixtureInfo {
  readonly flags: readonly string[];
  readonly otherTool: string | null;
  readonly read: string;
}

const info = JSON.parse(readFileSync(new URL('fixtures.json', FixtureDir), 'utf8')) as { fixtures: Record<string, FixtureInfo> };

export const FixtureNames = Object.keys(info.fixtures);

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, FixtureDir), 'utf8');
}

/** The facts the fixtures were made with (make-fixtures.sh's resolv.conf). */
const Facts = (ipv6: boolean): HostFacts => ({ ipv6, dnsServersV4: ['10.96.0.10'], dnsServersV6: ['fd00::10'] });

/** What the fixture's flags plan, in the fixture's backend's layout. */
export function plannedTables(name: string): PathTable[] {
  const fixture = info.fixtures[name];
  if (!fixture) throw new Error(`no fixture ${name}`);
  const parsed = parseInitFlags(fixture.flags, {});
  if (parsed.kind !== 'run') throw new Error('unexpected help');
  const plan = planCapture(parsed.capture, Facts(parsed.options.ipv6 === true));
  return parsed.capture.nativeNftables ? nftTablesOf(plan) : iptablesTablesOf(plan);
}

/** The terms without what the kernel leaves implied (a protocol term that a port term of the same protocol implies), as a set. */
function meaningfulTerms(terms: readonly Term[]): string[] {
  // A port term implies its protocol, negated or not (neither backend matches another protocol's ports).
  const implied = new Set<string>(terms.flatMap((t) => (t.kind === 'source-port' || t.kind === 'destination-port' ? [t.protocol] : [])));
  return terms
    .filter((t) => !(t.kind === 'protocol' && !t.negate && t.protocols.length === 1 && implied.has(t.protocols[0] ?? '')))
    .map((t) => JSON.stringify(t))
    .sort();
}

/** A rule as comparable text: purpose, terms as a set, actions in order. */
export function comparableRule(rule: PathRule): string {
  return `${rule.purpose ?? '-'} [${meaningfulTerms(rule.terms).join(' ')}] → ${JSON.stringify(rule.actions)}`;
}

/** Our rules (those with a purpose) per table, family and chain. */
export function ownRules(tables: readonly PathTable[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const table of tables) {
    for (const chain of table.chains.values()) {
      const rules = chain.rules.filter((r) => r.purpose !== undefined).map(comparableRule);
      if (rules.length === 0) continue;
      out[`${table.nftFamily ?? 'iptables'} ${table.name} IPv${table.families.join('+')} ${chain.name}`] = rules;
    }
  }
  return out;
}
