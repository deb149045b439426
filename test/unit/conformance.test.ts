/**
 * Istio conformance: for each of the 27 scenarios in test/fixtures/conformance/istio-iptables (a
 * copy of shared/conformance), the scenario's flags and environment go through the real
 * `outrigger init` flag parser and the planner, and the rendered restore input must give the same
 * tables, chains and rules, per family, table and chain, in order, as Istio's golden. Both sides are compared as the kernel would store
 * them (test/helpers/canonical-rule.ts: header options in iptables-save's order, `--set-mark` as
 * `--set-xmark`, implicit `-m tcp`, ...) and chain by chain in the order that results once every
 * `-A`/`-I` line has run; that is all "byte-level formatting" covers here.
 *
 * Deliberate differences from the goldens: none in the rules. Outrigger adds a
 * `-m comment --comment outrigger/<purpose>` to every rule (allowed by the data's README), writes
 * `--to-ports` where Istio's DNS UDP rule writes the alias `--to-port`, and writes a rule's options
 * in iptables-save's order.
 */

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planCapture } from '../../capture/plan-capture.js';
import { renderRestore } from '../../capture/render-restore.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';
import { canonicalRule, type OwnerIds } from '../helpers/canonical-rule.js';
import { parseRestoreDocuments, type RestoreTable, tokenize } from '../helpers/restore-document.js';

const dataDir = new URL('../fixtures/conformance/istio-iptables/', import.meta.url);

interface Scenario {
  name: string;
  flags: string[];
  env?: Record<string, string>;
  ipv6: boolean;
  dnsServersV4?: string[];
  dnsServersV6?: string[];
}

function loadScenarios(): { base: string[]; scenarios: Scenario[] } {
  const path = new URL('scenarios.json', dataDir);
  if (!existsSync(path)) {
    throw new Error(`conformance data not found at ${path.pathname}: test/fixtures/conformance holds a copy of shared/conformance (scripts/sync-conformance.sh)`);
  }
  const data = JSON.parse(readFileSync(path, 'utf8')) as { base: { flags: string[] }; scenarios: Scenario[] };
  return { base: data.base.flags, scenarios: data.scenarios };
}

const { base, scenarios } = loadScenarios();

/** Owner names (java, ftp) stand for themselves: the same name gets the same number on both sides. */
function nameNumbers(): OwnerIds {
  const ids = new Map<string, number>();
  const id = (name: string): number => {
    if (!ids.has(name)) ids.set(name, 1_000_000 + ids.size);
    return ids.get(name)!;
  };
  return { uid: id, gid: id };
}

/** `-A CHAIN spec` / `-I CHAIN N spec` with the spec canonical and the comment dropped. */
function canonicalLine(family: 4 | 6, owners: OwnerIds): (line: string) => string {
  return (line) => {
    const tokens = tokenize(line);
    const insert = tokens[0] === '-I';
    const head = insert ? tokens.slice(0, 3) : tokens.slice(0, 2);
    const spec = tokens.slice(head.length);
    for (let i = 0; i < spec.length; i++) if (spec[i] === '-m' && spec[i + 1] === 'comment') spec.splice(i, 4);
    return [...head, canonicalRule(spec, { family, owners })].join(' ');
  };
}

/** Per table: the declared chains (sorted) and each chain's rules once every line has run. */
function finalChains(document: readonly RestoreTable[]): Record<string, { chains: string[]; rules: Record<string, string[]> }> {
  const result: Record<string, { chains: string[]; rules: Record<string, string[]> }> = {};
  for (const table of document) {
    const rules: Record<string, string[]> = {};
    for (const line of table.rules) {
      const [op = '', chain = '', position = ''] = line.split(' ');
      const list = (rules[chain] ??= []);
      if (op === '-I') list.splice(Number(position) - 1, 0, line.split(' ').slice(3).join(' '));
      else list.push(line.split(' ').slice(2).join(' '));
    }
    result[table.table] = { chains: [...table.chains].sort(), rules };
  }
  return result;
}

describe('Istio istio-iptables conformance', () => {
  it('has all 27 scenarios', () => {
    expect(scenarios).toHaveLength(27);
  });

  for (const scenario of scenarios) {
    it(`reproduces ${scenario.name}`, () => {
      const parsed = parseInitFlags([...base, ...scenario.flags], scenario.env ?? {});
      if (parsed.kind !== 'run') throw new Error('unexpected help');
      const plan = planCapture(parsed.capture, {
        ipv6: scenario.ipv6,
        dnsServersV4: scenario.dnsServersV4 ?? [],
        dnsServersV6: scenario.dnsServersV6 ?? [],
      });
      const owners = nameNumbers();
      const canonical = (document: readonly RestoreTable[], family: 4 | 6) =>
        document.map((table) => ({ ...table, rules: table.rules.map(canonicalLine(family, owners)) }));
      const goldenDocuments = parseRestoreDocuments(readFileSync(new URL(`golden/${scenario.name}.golden`, dataDir), 'utf8'), { normalise: (line) => line });
      expect(goldenDocuments).toHaveLength(scenario.ipv6 ? 2 : 1);
      const golden = (family: 4 | 6, index: number) => canonical(goldenDocuments[index] ?? [], family);
      const ours = (text: string, family: 4 | 6) => canonical(parseRestoreDocuments(text, { normalise: (line) => line })[0] ?? [], family);

      expect(finalChains(ours(renderRestore(plan.ipv4), 4))).toEqual(finalChains(golden(4, 0)));
      if (scenario.ipv6) {
        expect(plan.ipv6).not.toBeNull();
        expect(finalChains(ours(renderRestore(plan.ipv6!), 6))).toEqual(finalChains(golden(6, 1)));
      } else {
        expect(plan.ipv6).toBeNull();
      }
    });
  }
});
