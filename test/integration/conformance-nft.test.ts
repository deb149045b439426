/**
 * Istio native-nftables conformance, on the real kernel: for each of the 28 scenarios in
 * test/fixtures/conformance/istio-nftables (a copy of shared/conformance), the scenario's flags and
 * environment go through the real `outrigger init` flag parser and the planner, the nft renderer's script and Istio's golden are
 * loaded into two fresh network namespaces, and `nft list ruleset` must show the same tables,
 * chains (type, hook, priority) and rules in the same order. What nft itself treats as identical
 * (spelling, `meta l4proto tcp` before a tcp field, `/32`, counter values) is thereby aside; rule
 * comments (outrigger's `outrigger/<purpose>`) are left out. The four owner-group scenarios name the
 * groups `java` and `ftp`, which nft resolves at load: both scripts are loaded in a private mount
 * namespace whose /etc/group is a copy with those groups added (test/helpers/nft.ts).
 *
 * Deliberate differences from Istio's rules, each applied to the golden's listing below before
 * comparing, so that everything else must still match:
 * 1. No IPv6 capture without IPv6 (the 17 scenarios with ipv6 false). Istio's inet rules without an
 *    address also act on IPv6 packets (its README: e.g. `meta l4proto tcp jump istio-inbound` then
 *    `redirect to :15006`), while with iptables Istio writes no ip6tables rules at all. Outrigger
 *    starts each of its base chains with `meta nfproto ipv6 counter return`, so IPv6 gets the same
 *    verdict as with iptables.
 * 2. drop-invalid drops INVALID packets of every protocol, as Istio's iptables rule does; Istio's
 *    nftables rule adds `meta l4proto tcp`. One meaning for both backends.
 * 3. tproxy (TPROXY with IPv6): mangle istio-inbound keeps iptables' order, 127.0.0.6 then ::6
 *    right after the mark-1337 return. Istio inserts its ::6 rule at the same index as the
 *    127.0.0.6 one, which puts it first (a quirk its README lists); all four are `return`, so no
 *    packet's fate changes.
 * 4. TPROXY fails closed: each `tproxy ... accept` rule is followed by a drop with the same matches.
 *    nft's tproxy statement, when no transparent socket takes the packet (the proxy not listening yet),
 *    ends that rule and the chain goes on, so Istio's rules let the connection through to the app
 *    uncaptured; iptables' TPROXY target drops it (shown on the kernel in init-capture.test.ts).
 */

import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCapture } from '../../capture/plan-capture.js';
import { OwnNftTableNames } from '../../capture/nft-tables.js';
import { nftLayout, renderNftApply } from '../../capture/render-nft.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';
import { createNamespace, destroyAllNamespaces, requireRealKernel } from '../helpers/netns.js';
import { type ListedRuleset, listRuleset, loadNft, parseRuleset, tablesAsObject } from '../helpers/nft.js';

const dataDir = new URL('../fixtures/conformance/istio-nftables/', import.meta.url);

interface Scenario {
  name: string;
  flags: string[];
  env?: Record<string, string>;
  ipv6: boolean;
  dnsServersV4?: string[];
  dnsServersV6?: string[];
}

function loadScenarios(): { base: string[]; baseEnv: Record<string, string>; scenarios: Scenario[] } {
  const path = new URL('scenarios.json', dataDir);
  if (!existsSync(path)) {
    throw new Error(`conformance data not found at ${path.pathname}: test/fixtures/conformance holds a copy of shared/conformance (scripts/sync-conformance.sh)`);
  }
  const data = JSON.parse(readFileSync(path, 'utf8')) as { base: { flags: string[]; env: Record<string, string> }; scenarios: Scenario[] };
  return { base: data.base.flags, baseEnv: data.base.env, scenarios: data.scenarios };
}

const { base, baseEnv, scenarios } = loadScenarios();
const ourTables = OwnNftTableNames.map((name) => `inet ${name}`);

beforeAll(() => requireRealKernel(['nft', 'unshare']));
afterAll(() => destroyAllNamespaces());

/** Difference 1: a plan without IPv6 returns IPv6 packets at the top of each base chain. */
function withIpv6Guard(ruleset: ListedRuleset): void {
  for (const chains of ruleset.values()) {
    for (const chain of chains.values()) if (chain.header) chain.rules.unshift('meta nfproto ipv6 counter return');
  }
}

/** Difference 2: drop-invalid for every protocol. */
function invalidOfEveryProtocol(ruleset: ListedRuleset): void {
  const chain = ruleset.get('inet istio-proxy-mangle')?.get('prerouting');
  if (!chain) return;
  chain.rules.splice(0, chain.rules.length, ...chain.rules.map((rule) => rule.replace('meta l4proto tcp ct state invalid', 'ct state invalid')));
}

/** Difference 3: 127.0.0.6 before ::6 in mangle istio-inbound, as iptables and ip6tables order them. */
function passthroughInIptablesOrder(ruleset: ListedRuleset): void {
  const chain = ruleset.get('inet istio-proxy-mangle')?.get('istio-inbound');
  if (!chain) return;
  const v4 = chain.rules.findIndex((rule) => rule.includes('ip saddr 127.0.0.6'));
  const v6 = chain.rules.findIndex((rule) => rule.includes('ip6 saddr ::6'));
  if (v4 < 0 || v6 < 0 || v4 < v6) return;
  const [rule] = chain.rules.splice(v4, 1);
  chain.rules.splice(v6, 0, rule!);
}

/** Difference 4: a drop with the same matches after each tproxy rule. */
function tproxyFailsClosed(ruleset: ListedRuleset): void {
  for (const chains of ruleset.values()) {
    for (const chain of chains.values()) {
      for (let i = chain.rules.length - 1; i >= 0; i--) {
        const rule = chain.rules[i] as string;
        const at = rule.indexOf(' tproxy ');
        if (at >= 0) chain.rules.splice(i + 1, 0, `${rule.slice(0, at)} counter drop`);
      }
    }
  }
}

describe('Istio istio-nftables conformance (nft list ruleset in fresh namespaces)', () => {
  it('has all 28 scenarios', () => {
    expect(scenarios).toHaveLength(28);
  });

  for (const scenario of scenarios) {
    it(`reproduces ${scenario.name}`, async () => {
      const parsed = parseInitFlags([...base, ...scenario.flags], { ...baseEnv, ...scenario.env });
      if (parsed.kind !== 'run') throw new Error('unexpected help');
      expect(parsed.capture.nativeNftables).toBe(true);
      const plan = planCapture(parsed.capture, {
        ipv6: scenario.ipv6,
        dnsServersV4: scenario.dnsServersV4 ?? [],
        dnsServersV6: scenario.dnsServersV6 ?? [],
      });
      const ours = renderNftApply(nftLayout(plan.rules, plan.families));
      const golden = readFileSync(new URL(`golden/${scenario.name}.golden`, dataDir), 'utf8');
      const withTestGroups = /\b(java|ftp)\b/.test(golden);

      const goldenNs = createNamespace('or-nftg');
      const oursNs = createNamespace('or-nfto');
      try {
        await loadNft(goldenNs, golden, { withTestGroups });
        await loadNft(oursNs, ours, { withTestGroups });
        const expected = parseRuleset(await listRuleset(goldenNs));
        if (!scenario.ipv6) withIpv6Guard(expected);
        invalidOfEveryProtocol(expected);
        passthroughInIptablesOrder(expected);
        tproxyFailsClosed(expected);
        const actual = parseRuleset(await listRuleset(oursNs));
        expect(tablesAsObject(actual)).toEqual(tablesAsObject(expected, ourTables));
      } finally {
        goldenNs.destroy();
        oursNs.destroy();
      }
    });
  }
});
