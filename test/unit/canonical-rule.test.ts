/**
 * The kernel-spelling normaliser the real-kernel property test compares with
 * (test/helpers/canonical-rule.ts, kernel-chains.ts): spellings iptables stores as the same rule
 * come out equal, and rules that differ in anything iptables keeps come out different, so the
 * property can neither fail on formatting nor pass over a real difference.
 */

import { describe, expect, it } from 'vitest';
import { type CanonicalOptions, canonicalRule, canonicalSaveLine } from '../helpers/canonical-rule.js';
import { chainStateFromSave, chainStateWithPlan, describeChainDifferences } from '../helpers/kernel-chains.js';
import { tokenize } from '../helpers/restore-document.js';
import { iif, RETURN } from '../../capture/match-terms.js';

const owners = { uid: (n: string) => ({ games: 5, root: 0 })[n], gid: (n: string) => ({ games: 60, root: 0 })[n] };
const v4: CanonicalOptions = { family: 4, owners };
const v6: CanonicalOptions = { family: 6, owners };
const canon = (rule: string, options = v4) => canonicalRule(tokenize(rule), options);

describe('canonicalRule', () => {
  it.each([
    ['-p tcp --dport 80 -j RETURN', '-p tcp -m tcp --dport 80 -j RETURN'],
    ['-o lo ! -d 127.0.0.1/32 -p tcp -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT', '! -d 127.0.0.1/32 -o lo -p tcp -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT'],
    ['-p udp --dport 53 -d 10.0.0.10/32 -j CT --zone 2', '-d 10.0.0.10/32 -p udp -m udp --dport 53 -j CT --zone 2'],
    ['-d 10.1.2.3/8 -j RETURN', '-d 10.0.0.0/8 -j RETURN'],
    ['-d 10.0.0.10 -j RETURN', '-d 10.0.0.10/32 -j RETURN'],
    ['-d 0.0.0.0/0 -j ISTIO_REDIRECT', '-j ISTIO_REDIRECT'],
    ['-j MARK --set-mark 1337', '-j MARK --set-xmark 0x539/0xffffffff'],
    ['-p tcp -m mark --mark 1337 -j CONNMARK --save-mark', '-p tcp -m mark --mark 0x539 -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff'],
    ['-p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006', '-p tcp -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff'],
    ['-p tcp -j REDIRECT --to-port 15053', '-p tcp -j REDIRECT --to-ports 15053'],
    ['-m conntrack --ctstate ESTABLISHED,RELATED -j ISTIO_DIVERT', '-m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT'],
    ['-m owner --uid-owner games -m owner ! --gid-owner games -j RETURN', '-m owner --uid-owner 5 -m owner ! --gid-owner 60 -j RETURN'],
    ['-m comment --comment outrigger/x -p tcp --dport 1 -j RETURN', '-p tcp -m tcp --dport 1 -m comment --comment "outrigger/x" -j RETURN'],
  ])('%s is stored as %s', (planned, saved) => {
    expect(canon(planned)).toBe(canon(saved));
  });

  it('spells IPv6 addresses and TPROXY defaults as ip6tables does', () => {
    expect(canon('! -d ::1/128 -s 2001:DB8:0:0:1:0:0:0/64 -p tcp -j TPROXY --on-port 1 --tproxy-mark 1', v6)).toBe(
      canon('-s 2001:db8::/64 ! -d ::1/128 -p tcp -j TPROXY --on-port 1 --on-ip :: --tproxy-mark 0x1/0xffffffff', v6),
    );
    expect(canon('-d ::ffff:1.2.3.4/128 -j RETURN', v6)).toBe(canon('-d ::ffff:102:304/128 -j RETURN', v6));
    expect(canon('-d ::/0 -j RETURN', v6)).toBe('-j RETURN');
  });

  it.each([
    ['-m owner --uid-owner 5 -j RETURN', '-m owner --gid-owner 5 -j RETURN'],
    ['-m owner --uid-owner 5 -j RETURN', '-m owner ! --uid-owner 5 -j RETURN'],
    ['-m owner --uid-owner games -j RETURN', '-m owner --uid-owner 60 -j RETURN'],
    ['-p tcp --dport 80 -j RETURN', '-p tcp --dport 81 -j RETURN'],
    ['-p tcp --dport 80 -j RETURN', '-p udp --dport 80 -j RETURN'],
    ['-d 10.0.0.0/8 -j RETURN', '-d 10.0.0.0/16 -j RETURN'],
    ['-d 10.0.0.0/8 -j RETURN', '! -d 10.0.0.0/8 -j RETURN'],
    ['-i eth0 -j RETURN', '-i eth0+ -j RETURN'],
    ['-i eth0 -j RETURN', '-o eth0 -j RETURN'],
    ['-j MARK --set-mark 1337', '-j MARK --set-mark 1338'],
    ['-p tcp -j TPROXY --on-port 15006 --tproxy-mark 1', '-p tcp -j TPROXY --on-port 15007 --tproxy-mark 1'],
    ['-m comment --comment outrigger/a -j RETURN', '-m comment --comment outrigger/b -j RETURN'],
    ['-j RETURN', '-j ISTIO_REDIRECT'],
    ['-m conntrack --ctstate INVALID -j X', '-m conntrack --ctstate NEW -j X'],
  ])('%s differs from %s', (a, b) => {
    expect(canon(a)).not.toBe(canon(b));
  });

  it('refuses what it has no canonical form for instead of guessing', () => {
    expect(() => canon('-m owner --pid-owner 1 -j RETURN')).toThrow(/no match takes --pid-owner/);
    expect(() => canon('-m string --string x -j RETURN')).toThrow(/match string/);
    expect(() => canon('-j DNAT --to-destination 1.2.3.4')).toThrow(/target DNAT/);
    expect(() => canon('-m owner --uid-owner nosuchuser -j RETURN')).toThrow(/no such user/);
    expect(() => canon('-d 2001:db8::/32 -j RETURN')).toThrow(/not an IPv4 address/);
  });

  it('reads a saved line with its chain', () => {
    expect(canonicalSaveLine('-A OUTPUT -p tcp -m comment --comment "outrigger/x plan=1" -j RETURN', v4)).toBe('-A OUTPUT -p tcp -m comment --comment "outrigger/x plan=1" -j RETURN');
  });
});

describe('chain states', () => {
  const before = chainStateFromSave('*nat\n:PREROUTING ACCEPT [0:0]\n:OTHER - [0:0]\n-A PREROUTING -p tcp --dport 9 -j RETURN\nCOMMIT\n*raw\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n', v4);

  it('keeps user chains, even empty, and drops tables that hold nothing', () => {
    expect([...before.keys()]).toEqual(['nat']);
    expect(before.get('nat')).toEqual(new Map([['OTHER', []], ['PREROUTING', ['-p tcp -m tcp --dport 9 -j RETURN']]]));
  });

  it('predicts appends after and inserts before what is there, each with its comment', () => {
    const plan = {
      family: 4 as const,
      rules: [
        { table: 'nat' as const, chain: 'PREROUTING' as const, match: [iif('vm0')], action: RETURN, purpose: 'exclude-interface' as const },
        { table: 'nat' as const, chain: 'PREROUTING' as const, insertAt: 1, match: [iif('vm1')], action: RETURN, purpose: 'kubevirt-not-inbound' as const },
      ],
    };
    expect(chainStateWithPlan(before, plan, v4).get('nat')?.get('PREROUTING')).toEqual([
      '-i vm1 -m comment --comment "outrigger/kubevirt-not-inbound" -j RETURN',
      '-p tcp -m tcp --dport 9 -j RETURN',
      '-i vm0 -m comment --comment "outrigger/exclude-interface" -j RETURN',
    ]);
    expect(() => chainStateWithPlan(before, { family: 4, rules: [{ ...plan.rules[1]!, insertAt: 3 }] }, v4)).toThrow(/position 3/);
  });

  it('names the chain that differs, with both versions', () => {
    const after = chainStateWithPlan(before, { family: 4, rules: [{ table: 'nat', chain: 'OUTPUT', match: [], action: RETURN, purpose: 'localhost' }] }, v4);
    expect(describeChainDifferences('IPv4', before, before)).toEqual([]);
    const [difference, ...more] = describeChainDifferences('IPv4', after, before);
    expect(more).toEqual([]);
    expect(difference).toContain('IPv4 nat OUTPUT differs');
    expect(difference).toContain('(no such chain)');
  });
});
