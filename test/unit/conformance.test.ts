/**
 * Istio conformance: for each of the 27 scenarios in ../shared/conformance/istio-iptables, the
 * scenario's flags and environment go through the real `outrigger init` flag parser and the
 * planner, and the rendered restore input must equal Istio's golden rules per family, table and
 * chain, in order. Only formatting iptables-restore treats as identical is normalised (see
 * test/helpers/restore-document.ts).
 *
 * Deliberate differences from the goldens: none in the rules. Outrigger adds a
 * `-m comment --comment outrigger/<purpose>` to every rule (allowed by the data's README) and
 * writes `--to-ports` where Istio's DNS UDP rule writes the alias `--to-port`.
 */

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planCapture } from '../../capture/plan-capture.js';
import { renderRestore } from '../../capture/render-restore.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';
import { byTable, parseRestoreDocuments } from '../helpers/restore-document.js';

const dataDir = new URL('../../../shared/conformance/istio-iptables/', import.meta.url);

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
    throw new Error(`conformance data not found at ${path.pathname}: the shared/ folder must sit beside the repository`);
  }
  const data = JSON.parse(readFileSync(path, 'utf8')) as { base: { flags: string[] }; scenarios: Scenario[] };
  return { base: data.base.flags, scenarios: data.scenarios };
}

const { base, scenarios } = loadScenarios();

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
      const golden = parseRestoreDocuments(readFileSync(new URL(`golden/${scenario.name}.golden`, dataDir), 'utf8'));
      expect(golden).toHaveLength(scenario.ipv6 ? 2 : 1);

      const [ipv4Doc] = parseRestoreDocuments(renderRestore(plan.ipv4));
      expect(byTable(ipv4Doc ?? [])).toEqual(byTable(golden[0] ?? []));
      if (scenario.ipv6) {
        expect(plan.ipv6).not.toBeNull();
        const [ipv6Doc] = parseRestoreDocuments(renderRestore(plan.ipv6!));
        expect(byTable(ipv6Doc ?? [])).toEqual(byTable(golden[1] ?? []));
      } else {
        expect(plan.ipv6).toBeNull();
      }
    });
  }
});
