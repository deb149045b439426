/**
 * The explainer's path and verdict without a kernel (the kernel itself is the judge in
 * test/integration/explain-kernel.test.ts): the verdicts in words the issue names, the settings to
 * change, the path's tables and chains, another tool's rules mixed in (evaluable ones followed,
 * the others named with the verdict uncertain only when they could change it), netfilter's
 * semantics the kernel test relies on (NAT's first binding wins, TPROXY without a transparent
 * socket, socket-owner matches without a socket), and hostile rulesets (loops, deep nesting, many
 * rules) explained without a crash.
 */

import { describe, expect, it } from 'vitest';
import type { RawCaptureSettings } from '../../capture/build-capture-config.js';
import { planCapture } from '../../capture/plan-capture.js';
import type { Connection, PodFacts } from '../../explain/connection.js';
import { explainConnection, type Explanation } from '../../explain/explain-connection.js';
import { parseDump } from '../../explain/parse-dump.js';
import type { PathRuleset } from '../../explain/path-model.js';
import { iptablesTablesOf, nftTablesOf } from '../../explain/plan-ruleset.js';
import { explanationJson, renderExplanationText } from '../../explain/render-explanation.js';
import type { SettingContext } from '../../explain/setting-names.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';
import { fixtureText } from '../helpers/explain-fixtures.js';

const IstioDefaults = ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020'];

function planned(flags: readonly string[], backend: 'iptables' | 'nftables' = 'iptables', env: Record<string, string> = {}): PathRuleset {
  const parsed = parseInitFlags(flags, env);
  if (parsed.kind !== 'run') throw new Error('help');
  const plan = planCapture(parsed.capture, { ipv6: true, dnsServersV4: ['10.96.0.10'], dnsServersV6: [] });
  return { tables: backend === 'nftables' ? nftTablesOf(plan) : iptablesTablesOf(plan), inputs: ['plan'], notes: [] };
}

function dump(text: string): PathRuleset {
  const parsed = parseDump(text, 'rules.txt');
  return { tables: parsed.tables, inputs: parsed.inputs, notes: parsed.notes };
}

const out = (destination: string, destinationPort: number, extra: Partial<Connection> = {}): Connection => ({ direction: 'outbound', protocol: 'tcp', destination, destinationPort, ...extra });
const inb = (destinationPort: number, extra: Partial<Connection> = {}): Connection => ({ direction: 'inbound', protocol: 'tcp', destination: '10.244.0.5', destinationPort, source: '10.244.0.9', interface: 'eth0', ...extra });
const PodIp: PodFacts = { interfaces: [{ name: 'eth0', addresses: ['10.244.0.5'] }] };

function explainIn(ruleset: PathRuleset, connection: Connection, settings: SettingContext = { kind: 'flags' }, facts: PodFacts = PodIp): Explanation {
  return explainConnection({ ruleset, connection, facts, settings });
}

describe('verdicts in words, with the setting to change', () => {
  const rules = planned(IstioDefaults);

  it('captured outbound: the outbound listener, the original destination kept, and how to send it directly', () => {
    const e = explainIn(rules, out('10.1.2.3', 443));
    expect(e.verdict).toMatchObject({ kind: 'captured', words: "captured: redirected to the proxy's outbound listener 15001 (original destination 10.1.2.3:443 kept)", listener: { role: 'outbound', port: 15001 } });
    expect(e.verdict.decidedBy?.rule.purpose).toBe('to-outbound-listener');
    expect(e.verdict.change).toEqual(['to send it directly: add 10.1.2.3/32 (or a range holding it) to -x/--istio-service-exclude-cidr, or port 443 to -o/--istio-local-outbound-ports-exclude']);
    expect(e.certain).toBe(true);
  });

  it("direct: the proxy's own uid", () => {
    const e = explainIn(rules, out('10.1.2.3', 443, { uid: 1337, gid: 1337 }));
    expect(e.verdict.words).toBe('direct: exempt because the socket runs as uid 1337');
    expect(e.verdict.change).toEqual(["to capture it: run it as another uid than the proxy's (-u/--proxy-uid)"]);
  });

  it('direct: an excluded range, named by the annotation that set it', () => {
    const raw: RawCaptureSettings = { outboundIpRangesExclude: { text: '10.0.0.0/8', source: 'annotation traffic.sidecar.istio.io/excludeOutboundIPRanges' } };
    const e = explainIn(planned([...IstioDefaults, '-x', '10.0.0.0/8']), out('10.1.2.3', 443), { kind: 'manifest', raw });
    expect(e.verdict.words).toBe('direct: 10.0.0.0/8 is excluded by annotation traffic.sidecar.istio.io/excludeOutboundIPRanges');
    expect(e.verdict.change).toEqual(['to capture it: remove 10.0.0.0/8 from annotation traffic.sidecar.istio.io/excludeOutboundIPRanges']);
  });

  it('DNS: redirected to the DNS listener; turning DNS capture off is the other verdict', () => {
    const e = explainIn(planned([...IstioDefaults, '--redirect-dns']), out('10.96.0.10', 53, { protocol: 'udp' }));
    expect(e.verdict).toMatchObject({ kind: 'dns', words: "DNS: redirected to the proxy's DNS listener 15053", listener: { role: 'dns', port: 15053 } });
    expect(e.verdict.change).toEqual(['to send DNS to 10.96.0.10 directly: turn off --redirect-dns']);
  });

  it('UDP that is not DNS goes out directly, with DNS capture off named for port 53', () => {
    const e = explainIn(rules, out('10.96.0.10', 53, { protocol: 'udp' }));
    expect(e.verdict.words).toBe('direct: outrigger captures TCP only (UDP only as DNS, with DNS capture); it goes out to 10.96.0.10:53 without the proxy');
    expect(e.verdict.change).toEqual(["to send DNS to the proxy's DNS listener: turn on --redirect-dns"]);
  });

  it('inbound: captured to the inbound listener, or excluded by port', () => {
    expect(explainIn(rules, inb(8080)).verdict.words).toBe("captured: redirected to the proxy's inbound listener 15006 (original destination 10.244.0.5:8080 kept)");
    const excluded = explainIn(rules, inb(15021));
    expect(excluded.verdict.words).toBe('direct: port 15021 is excluded by -d/--istio-local-exclude-ports');
  });

  it('outside the included ranges, and not a listed inbound port', () => {
    const narrow = planned(['-i', '10.96.0.0/12', '-b', '8080']);
    expect(explainIn(narrow, out('203.0.113.10', 443)).verdict.words).toBe('direct: 203.0.113.10 is not in the captured ranges (-i/--istio-service-cidr); it goes out to 203.0.113.10:443 without the proxy');
    expect(explainIn(narrow, inb(9090)).verdict.change).toEqual(['to capture it: add port 9090 to -b/--istio-inbound-ports']);
  });

  it('localhost and loopback', () => {
    expect(explainIn(rules, out('127.0.0.1', 8080)).verdict.words).toBe('direct: it goes over loopback from a user other than the proxy, which is not captured');
    expect(explainIn(planned(['-i', '127.0.0.0/8']), out('127.0.0.1', 8080)).verdict.words).toBe('direct: 127.0.0.1 is localhost (127.0.0.1/32), which is never captured');
  });

  it("the proxy's call to the pod's own address goes to the inbound listener", () => {
    const e = explainIn(rules, out('10.244.0.5', 8080, { uid: 1337, gid: 1337 }));
    expect(e.verdict.words).toBe("captured: redirected to the proxy's inbound listener 15006 (original destination 10.244.0.5:8080 kept)");
  });

  it('TPROXY: diverted with the original destination kept; without a transparent socket both backends drop it (outrigger\'s nft drop after tproxy), while Istio\'s nft rules let it through', () => {
    const tproxy = [...IstioDefaults, '-m', 'TPROXY'];
    expect(explainIn(planned(tproxy), inb(8080)).verdict.words).toBe("captured: diverted with TPROXY to the proxy's inbound listener 15006 (original destination 10.244.0.5:8080 kept)");
    const none: PodFacts = { ...PodIp, transparentListeners: [] };
    expect(explainIn(planned(tproxy), inb(8080), { kind: 'flags' }, none).verdict.kind).toBe('dropped');
    const nft = explainIn(planned(tproxy, 'nftables'), inb(8080), { kind: 'flags' }, none);
    expect(nft.verdict.kind).toBe('dropped');
    expect(nft.run.steps.some((step) => JSON.stringify(step).includes('tproxy-no-listener'))).toBe(true);
    // Istio's own nft rules (no drop after the tproxy rule): the packet goes on to the app.
    const ours = planned(tproxy, 'nftables');
    const istio = { ...ours, tables: ours.tables.map((t) => ({ ...t, chains: new Map([...t.chains].map(([name, chain]) => [name, { ...chain, rules: chain.rules.filter((r) => r.purpose !== 'tproxy-no-listener') }])) })) };
    expect(explainIn(istio, inb(8080), { kind: 'flags' }, none).run.disposition).toMatchObject({ kind: 'local', port: 8080 });
  });

  it('native nftables without IPv6: IPv6 is never captured, as iptables without ip6tables rules', () => {
    const parsedNoV6 = parseInitFlags([...IstioDefaults], {});
    if (parsedNoV6.kind !== 'run') throw new Error('help');
    const plan = planCapture(parsedNoV6.capture, { ipv6: false, dnsServersV4: [], dnsServersV6: [] });
    const e = explainIn({ tables: nftTablesOf(plan), inputs: [], notes: [] }, out('2001:db8::5', 443));
    expect(e.verdict.words).toBe('direct: the pod has no IPv6 capture, so IPv6 is never captured');
    const viaIptables = explainIn({ tables: iptablesTablesOf(plan), inputs: [], notes: [] }, out('2001:db8::5', 443));
    expect(viaIptables.verdict.words).toMatch(/^direct: no capture rule applies to it \(no rules for IPv6 here\)/);
  });
});

describe('the path', () => {
  it('names each table and chain entered and each rule that matched, with its purpose and line', () => {
    const text = renderExplanationText(explainIn(dump(fixtureText('redirect-iptables-nft.save')), out('203.0.113.10', 443)));
    expect(text).toContain('output hook: the app sends the packet');
    expect(text).toContain('  nat OUTPUT (iptables-nft, priority -100, policy accept)');
    expect(text).toContain('    #2 outrigger/capture-outbound (line 42) → jump to ISTIO_OUTPUT');
    expect(text).toContain('        locally generated traffic enters the outbound capture chain');
    expect(text).toContain('  nat ISTIO_REDIRECT');
    expect(text).toContain('→ REDIRECT to port 15001');
    expect(text).toContain('prerouting hook: the packet comes back in over lo');
    expect(text).toContain("nat PREROUTING: skipped (the connection's NAT was decided at output)");
    expect(text).toContain("verdict: captured: redirected to the proxy's outbound listener 15001 (original destination 203.0.113.10:443 kept)");
  });

  it('as JSON for tools', () => {
    const json = explanationJson(explainIn(planned(IstioDefaults), out('10.1.2.3', 443))) as { verdict: { kind: string; listener: unknown }; certain: boolean; path: Record<string, unknown>[] };
    expect(json.verdict.kind).toBe('captured');
    expect(json.verdict.listener).toEqual({ role: 'outbound', port: 15001 });
    expect(json.certain).toBe(true);
    expect(json.path).toContainEqual({ hook: 'output', pass: 'outbound' });
    expect(json.path.some((s) => (s.rule as { purpose?: string } | undefined)?.purpose === 'outbound-all')).toBe(true);
  });
});

/** Our rules (Istio defaults) plus another tool's, as iptables-save prints them. */
function mixed(filterOutput: readonly string[], natOutputFirst: readonly string[] = [], extraChains: readonly string[] = []): PathRuleset {
  return dump([
    '# Generated by iptables-nft-save v1.8.9 (nf_tables) on x',
    '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...extraChains, ...filterOutput, 'COMMIT',
    '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':ISTIO_OUTPUT - [0:0]', ':ISTIO_REDIRECT - [0:0]',
    ...natOutputFirst,
    '-A OUTPUT -m comment --comment "outrigger/capture-outbound" -j ISTIO_OUTPUT',
    '-A ISTIO_OUTPUT -m owner --uid-owner 1337 -m comment --comment "outrigger/proxy-own-traffic" -j RETURN',
    '-A ISTIO_OUTPUT -m comment --comment "outrigger/outbound-all" -j ISTIO_REDIRECT',
    '-A ISTIO_REDIRECT -p tcp -m comment --comment "outrigger/to-outbound-listener" -j REDIRECT --to-ports 15001',
    'COMMIT', '',
  ].join('\n'));
}

describe("another tool's rules mixed in", () => {
  it("a user's DROP is followed: dropped, certain, quoted as written", () => {
    const e = explainIn(mixed(['-A OUTPUT -d 10.1.2.3/32 -p tcp -m tcp --dport 443 -j DROP']), out('10.1.2.3', 443));
    // The DROP sees the packet after nat OUTPUT redirected it to 127.0.0.1:15001, so it does not match it.
    expect(e.verdict.kind).toBe('captured');
    const direct = explainIn(mixed(['-A OUTPUT -d 10.1.2.3/32 -p tcp -m tcp --dport 443 -j DROP']), out('10.1.2.3', 443, { uid: 1337, gid: 1337 }));
    expect(direct.verdict.words).toBe('dropped by "-A OUTPUT -d 10.1.2.3/32 -p tcp -m tcp --dport 443 -j DROP" (line 6), a rule outrigger did not plan');
    expect(direct.certain).toBe(true);
    expect(direct.verdict.change[0]).toMatch(/not outrigger's: change or remove it \(iptables-nft table filter, chain OUTPUT\)/);
  });

  it('a match the explainer cannot evaluate that could change the verdict: uncertain, the rule and the other verdict named', () => {
    const e = explainIn(mixed(['-A OUTPUT -m set --match-set blocked dst -j DROP']), out('10.1.2.3', 443, { uid: 1337, gid: 1337 }));
    expect(e.certain).toBe(false);
    expect(e.verdict.kind).toBe('direct');
    expect(e.alternatives.map((a) => a.verdict.kind)).toEqual(['dropped']);
    expect(e.alternatives[0]?.assuming[0]?.ref.rule.origin.text).toBe('-A OUTPUT -m set --match-set blocked dst -j DROP');
    expect(e.unevaluated[0]?.reason).toBe('-m set --match-set blocked dst: not evaluated');
    const text = renderExplanationText(e);
    expect(text).toContain('uncertain: a rule the explainer cannot evaluate could send it elsewhere');
    expect(text).toContain('  if -A OUTPUT -m set --match-set blocked dst -j DROP (line 6) matches: dropped by');
    expect(explanationJson(e)).toMatchObject({ certain: false, uncertainty: ['a rule the explainer cannot evaluate could send it elsewhere'] });
  });

  it('such a rule that cannot change the verdict is named, and the verdict stays certain', () => {
    const e = explainIn(mixed(['-A OUTPUT -m statistic --mode random --probability 0.1 -j LOG']), out('10.1.2.3', 443));
    expect(e.certain).toBe(true);
    expect(e.unevaluated.map((u) => u.ref.rule.origin.text)).toEqual(['-A OUTPUT -m statistic --mode random --probability 0.1 -j LOG']);
    expect(renderExplanationText(e)).toContain('not evaluated (the verdict is the same either way):');
  });

  it('a rule whose other terms already fail is not uncertain at all', () => {
    const e = explainIn(mixed(['-A OUTPUT -p udp -m set --match-set blocked dst -j DROP']), out('10.1.2.3', 443));
    expect(e.certain).toBe(true);
    expect(e.unevaluated).toEqual([]);
  });

  it('a target the explainer does not know makes the verdict uncertain', () => {
    const e = explainIn(mixed(['-A OUTPUT -j NFQUEUE --queue-num 1']), out('10.1.2.3', 443, { uid: 1337, gid: 1337 }));
    expect(e.certain).toBe(false);
    expect(e.alternatives[0]?.verdict.words).toMatch(/^unknown: "-A OUTPUT -j NFQUEUE --queue-num 1" \(line 6\) decides/);
  });

  it("a RETURN before outrigger's jump exempts the connection, and the explanation says whose rule it is", () => {
    const e = explainIn(mixed([], ['-A OUTPUT -p tcp -m tcp --dport 443 -j RETURN']), out('10.1.2.3', 443));
    expect(e.verdict.words).toMatch(/^direct: "-A OUTPUT -p tcp -m tcp --dport 443 -j RETURN" \(line \d+\), a rule outrigger did not plan, lets it through before capture/);
  });

  it("another tool's DNAT sends it elsewhere", () => {
    const e = explainIn(mixed([], ['-A OUTPUT -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.244.3.3:6443']), out('10.96.0.1', 443));
    expect(e.verdict.kind).toBe('redirected');
    expect(e.run.disposition).toMatchObject({ kind: 'remote', address: '10.244.3.3', port: 6443 });
  });

  it("Istio's own rules (no purpose comments) are recognised by Istio's chain names", () => {
    const istio = dump(['*nat', ':OUTPUT ACCEPT [0:0]', ':ISTIO_OUTPUT - [0:0]', ':ISTIO_REDIRECT - [0:0]', '-A OUTPUT -p tcp -j ISTIO_OUTPUT', '-A ISTIO_OUTPUT -j ISTIO_REDIRECT', '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001', 'COMMIT', ''].join('\n'));
    expect(explainIn(istio, out('10.1.2.3', 443)).verdict.words).toBe("captured: redirected to the proxy's outbound listener 15001 (original destination 10.1.2.3:443 kept)");
  });
});

describe("netfilter's rules the kernel test holds the explainer to", () => {
  it('the first nat chain to set up NAT at a hook wins; later nat chains are skipped', () => {
    const both = dump([
      'table inet early {', '\tchain out {', '\t\ttype nat hook output priority -110; policy accept;', '\t\ttcp dport 443 redirect to :9999', '\t}', '}',
      ...mixed([]).inputs.length ? [] : [],
    ].join('\n'));
    const rules: PathRuleset = { tables: [...both.tables, ...mixed([]).tables], inputs: [], notes: [] };
    const e = explainIn(rules, out('10.1.2.3', 443));
    expect(e.run.disposition).toMatchObject({ kind: 'local', port: 9999 });
    expect(e.run.steps.some((s) => s.kind === 'skip' && s.reason === 'an earlier nat chain already set up NAT')).toBe(true);
  });

  it('a socket-owner match on a packet without a socket: nft never matches, iptables matches its negation', () => {
    const nft = dump(['table inet t {', '\tchain pre {', '\t\ttype filter hook prerouting priority 0; policy accept;', '\t\tmeta skuid != 0 drop', '\t}', '}', ''].join('\n'));
    expect(explainIn(nft, inb(8080)).run.disposition.kind).toBe('local');
    const ipt = dump(['*mangle', ':INPUT ACCEPT [0:0]', '-A INPUT -m owner ! --uid-owner 0 -j DROP', 'COMMIT', ''].join('\n'));
    expect(explainIn(ipt, inb(8080)).run.disposition.kind).toBe('dropped');
  });

  it('a chain at a hook it does not follow (nft ingress) makes the verdict uncertain and says which', () => {
    const ingress = dump(['table inet edge {', '\tchain in {', '\t\ttype filter hook ingress device "eth0" priority 0; policy accept;', '\t\ttcp dport 8080 drop', '\t}', '}', ''].join('\n'));
    const e = explainIn({ tables: [...ingress.tables, ...planned(IstioDefaults).tables], inputs: [], notes: [] }, inb(8080));
    expect(e.certain).toBe(false);
    expect(e.uncertainty).toEqual(['chain in of table inet edge at hook ingress is not followed']);
  });

  it('an unreachable destination fails before any rule', () => {
    const e = explainIn(planned(IstioDefaults), out('10.1.2.3', 443), { kind: 'rules' }, { route: { interface: '', local: false, unreachable: 'RTNETLINK answers: Network is unreachable' } });
    expect(e.verdict.kind).toBe('unreachable');
  });
});

describe('hostile rulesets are explained without a crash', () => {
  it('a loop of jumps (iptables refuses one; a hand-edited dump may hold one)', () => {
    const loop = dump(['*nat', ':OUTPUT ACCEPT [0:0]', ':A - [0:0]', ':B - [0:0]', '-A OUTPUT -j A', '-A A -j B', '-A B -j A', 'COMMIT', ''].join('\n'));
    const e = explainIn(loop, out('10.1.2.3', 443));
    expect(e.verdict.kind).toBe('unknown');
    expect(e.certain).toBe(false);
    expect(e.unevaluated[0]?.reason).toMatch(/more than 64 nested jumps/);
  });

  it('many rules and many unevaluable ones: every combination is not tried, and it says so', () => {
    const lines = ['*filter', ':OUTPUT ACCEPT [0:0]'];
    for (let i = 0; i < 20_000; i++) lines.push(`-A OUTPUT -p tcp -m tcp --dport ${1 + (i % 400)} -j ACCEPT`);
    for (let i = 0; i < 12; i++) lines.push(`-A OUTPUT -m set --match-set s${i} dst -j LOG`);
    lines.push('COMMIT', '');
    const e = explainIn(dump(lines.join('\n')), out('10.1.2.3', 4443));
    expect(e.certain).toBe(false);
    expect(e.uncertainty).toContain('more than 64 combinations of unevaluated rules: not every one was tried');
  });
});
