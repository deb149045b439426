/**
 * The nftables renderer on its own (no kernel): the script's shape (every table of ours removed,
 * the used ones re-created, chains in Istio's order with Istio's hooks and priorities), the IPv6
 * guard of plans without IPv6, comments and the fingerprint, the final order of inserted rules,
 * and spellings iptables and nft differ on. test/integration/conformance-nft.test.ts compares the
 * loaded result with Istio's goldens on the kernel.
 */

import { describe, expect, it } from 'vitest';
import { buildCaptureConfig } from '../../capture/build-capture-config.js';
import { planCapture } from '../../capture/plan-capture.js';
import { iif, RETURN, src, tcp } from '../../capture/match-terms.js';
import { nftLayout, nftRuleBody, renderNftApply, renderNftCleanup } from '../../capture/render-nft.js';
import { finalChainOrder, type Rule } from '../../capture/rule.js';

const config = (settings: Record<string, string>) =>
  buildCaptureConfig(Object.fromEntries(Object.entries(settings).map(([k, text]) => [k, { text, source: k }])));
const facts = (ipv6: boolean) => ({ ipv6, dnsServersV4: [], dnsServersV6: [] });

describe('renderNftApply', () => {
  const plan = planCapture(config({ inboundPorts: '*', outboundIpRangesInclude: '*' }), facts(false));
  const script = renderNftApply(nftLayout(plan.rules, plan.families));
  const lines = script.trimEnd().split('\n');

  it('first removes all three of our tables, then creates the ones the plan uses', () => {
    expect(lines.slice(0, 6)).toEqual([
      'add table inet istio-proxy-nat', 'delete table inet istio-proxy-nat',
      'add table inet istio-proxy-mangle', 'delete table inet istio-proxy-mangle',
      'add table inet istio-proxy-raw', 'delete table inet istio-proxy-raw',
    ]);
    expect(lines[6]).toBe('create table inet istio-proxy-nat');
    expect(lines.filter((l) => l.startsWith('add table'))).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith('create table'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('add chain'))).toEqual([
      'add chain inet istio-proxy-nat prerouting { type nat hook prerouting priority -100 ; }',
      'add chain inet istio-proxy-nat output { type nat hook output priority -100 ; }',
      'add chain inet istio-proxy-nat istio-inbound',
      'add chain inet istio-proxy-nat istio-redirect',
      'add chain inet istio-proxy-nat istio-in-redirect',
      'add chain inet istio-proxy-nat istio-output',
    ]);
  });

  it('returns IPv6 packets first in each base chain when the plan has no IPv6, and not otherwise', () => {
    const guard = (text: string) => text.split('\n').filter((l) => l.includes('meta nfproto ipv6 counter return'));
    expect(guard(script)).toEqual([
      'add rule inet istio-proxy-nat prerouting meta nfproto ipv6 counter return comment "outrigger/ipv6-not-captured"',
      'add rule inet istio-proxy-nat output meta nfproto ipv6 counter return comment "outrigger/ipv6-not-captured"',
    ]);
    const dual = planCapture(config({ inboundPorts: '*', outboundIpRangesInclude: '*' }), facts(true));
    expect(guard(renderNftApply(nftLayout(dual.rules, dual.families)))).toEqual([]);
  });

  it('comments every rule with its purpose and puts the fingerprint on the nat output jump only', () => {
    const rules = lines.filter((l) => l.startsWith('add rule'));
    expect(rules.every((l) => / comment "outrigger\/[a-z0-9-]+( plan=[0-9a-f]{16})?"$/.test(l))).toBe(true);
    expect(rules.filter((l) => l.includes(' plan='))).toEqual([
      expect.stringMatching(/^add rule inet istio-proxy-nat output counter jump istio-output comment "outrigger\/capture-outbound plan=[0-9a-f]{16}"$/),
    ]);
    const other = planCapture(config({ inboundPorts: '80', outboundIpRangesInclude: '*' }), facts(false));
    expect(nftLayout(other.rules, other.families).fingerprint).not.toBe(nftLayout(plan.rules, plan.families).fingerprint);
  });

  it('removes only the tables of ours known to exist, when told which (a fresh pod: none)', () => {
    const layout = nftLayout(plan.rules, plan.families);
    expect(renderNftApply(layout, [])).toBe(script.split('\n').slice(6).join('\n'));
    expect(renderNftApply(layout, ['istio-proxy-raw']).split('\n').slice(0, 3)).toEqual(['add table inet istio-proxy-raw', 'delete table inet istio-proxy-raw', 'create table inet istio-proxy-nat']);
  });

  it('is deterministic', () => {
    expect(renderNftApply(nftLayout(plan.rules, plan.families))).toBe(script);
  });
});

describe('rule spelling', () => {
  it("writes iptables' interface wildcard as nft's, quotes names, and tproxy per family", () => {
    const rule = (r: Partial<Rule>): Rule => ({ table: 'nat', chain: 'PREROUTING', match: [], action: RETURN, purpose: 'exclude-interface', ...r });
    expect(nftRuleBody(rule({ match: [iif('veth+')] }))).toBe('iifname "veth*" counter return');
    expect(nftRuleBody(rule({ family: 6, action: { kind: 'tproxy', port: 15006, mark: 1337 }, match: [tcp] }))).toBe('meta l4proto tcp tproxy ip6 to :15006 meta mark set 1337 counter accept');
    expect(() => nftRuleBody(rule({ action: { kind: 'tproxy', port: 15006, mark: 1337 } }))).toThrow(/address family/);
  });

  it('keeps TPROXY bookkeeping in iptables order for both families (127.0.0.6 before ::6)', () => {
    const plan = planCapture(config({ inboundPorts: '*', inboundInterceptionMode: 'TPROXY' }), facts(true));
    const inbound = plan.rules.filter((r) => r.table === 'mangle' && r.chain === 'ISTIO_INBOUND');
    expect(finalChainOrder(inbound, plan.families).map((r) => r.purpose)).toEqual([
      'tproxy-no-loop', 'inbound-passthrough', 'inbound-passthrough', 'app-to-app-loopback', 'inbound-established', 'inbound-all-ports',
    ]);
    const passthrough = finalChainOrder(inbound, plan.families).filter((r) => r.purpose === 'inbound-passthrough');
    expect(passthrough.map((r) => r.match.find((t) => t.kind === 'source'))).toEqual([src('127.0.0.6/32'), src('::6/128')]);
  });
});

describe('renderNftCleanup', () => {
  it('removes exactly our three tables, whether they exist or not', () => {
    expect(renderNftCleanup()).toBe([
      'add table inet istio-proxy-nat', 'delete table inet istio-proxy-nat',
      'add table inet istio-proxy-mangle', 'delete table inet istio-proxy-mangle',
      'add table inet istio-proxy-raw', 'delete table inet istio-proxy-raw', '',
    ].join('\n'));
  });
});
