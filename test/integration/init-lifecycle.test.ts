/**
 * `outrigger init` lifecycle on the real kernel, for both capture backends (iptables, and
 * nftables with --native-nftables) where the behaviour is common: re-runs change nothing, new
 * flags replace old rules without leftovers, switching backends leaves nothing of the other,
 * cleanup removes exactly what outrigger added, refusal of bad flags before touching the kernel,
 * rollback when the kernel refuses the rules, other tools' rules kept and working, dry-run,
 * --run-validation's exit codes and --ipv6 auto. iptables only: both iptables backends and
 * Istio's backend detection, rollback of a restore that committed some tables.
 */

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, createPodPair, destroyAllNamespaces, type Namespace, requireRealKernel } from '../helpers/netns.js';
import { outrigger } from '../helpers/outrigger-cli.js';
import { probe, startProbe, stopAllProbes } from '../helpers/probes.js';
import { type CaptureBackend, CaptureBackends } from '../helpers/capture-backends.js';
import { listRuleset } from '../helpers/nft.js';

beforeAll(() => requireRealKernel(['nft', 'unshare']));
afterAll(() => {
  stopAllProbes();
  destroyAllNamespaces();
});

const FULL = ['-m', 'TPROXY', '-b', '*', '-d', '15090', '-i', '*', '-x', '203.0.113.0/24', '--redirect-dns', '--capture-all-dns', '--drop-invalid', '--ipv6', 'true'];
const quiet = ['--log-level', 'warn'];

/**
 * Everything outrigger could have touched in a namespace, for before/after comparisons: both
 * iptables families, the nftables ruleset (counter values left out), routing rules, routes, lo's
 * addresses.
 */
async function snapshot(ns: Namespace, backend: 'nft' | 'legacy' = 'nft'): Promise<string> {
  const parts = [await ns.save(4, backend), await ns.save(6, backend), nftTables(await listRuleset(ns)).replace(/packets \d+ bytes \d+/g, '')];
  for (const args of [['-4', 'rule'], ['-6', 'rule'], ['-4', 'route', 'show', 'table', 'all'], ['-6', 'addr', 'show', 'dev', 'lo']]) {
    parts.push((await ns.run('ip', args)).stdout.replace(/valid_lft.*\n/g, ''));
  }
  return parts.join('\n---\n');
}

async function initOk(ns: Namespace, args: string[]): Promise<void> {
  const result = await outrigger(ns, ['init', ...args, ...quiet]);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
}

/** The nftables tables not managed by iptables-nft (iptables-save shows those), sorted by name. */
function nftTables(listing: string): string {
  return listing.split(/(?=^table )/m).filter((block) => /^table (inet|bridge|netdev|arp) /.test(block)).map((b) => b.trimEnd()).sort().join('\n');
}

/** Both backends' rules, with counters (iptables-save -c, nft list ruleset). */
async function withCounters(ns: Namespace): Promise<string> {
  const strip = (s: string) => s.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  return [strip((await ns.run('iptables-nft-save', ['-c'])).stdout), strip((await ns.run('ip6tables-nft-save', ['-c'])).stdout), nftTables(await listRuleset(ns))].join('\n---\n');
}

describe.each(CaptureBackends)('re-run, replace and cleanup ($name)', (backend: CaptureBackend) => {
  const FULL_B = [...FULL, ...backend.args];

  it('changes nothing when run again with the same flags (counters included)', async () => {
    const ns = createNamespace();
    await initOk(ns, FULL_B);
    await probe(ns, 'tcp', '127.0.0.1', 7); // moves some counters (nothing listens)
    const before = await withCounters(ns);
    expect(before).toMatch(backend.name === 'iptables' ? /ISTIO_TPROXY/ : /chain istio-tproxy/);
    expect(before).toMatch(/packets [1-9]\d* bytes|\[[1-9]\d*:\d+\]/);
    await initOk(ns, FULL_B);
    expect(await withCounters(ns)).toBe(before);
    ns.destroy();
  });

  // Whatever the earlier flags were, the namespace ends up exactly as a fresh one given the new
  // flags: rules of both families, policy-routing rules, routes of every table and lo's addresses.
  it.each([
    ['TPROXY with DNS and IPv6 → REDIRECT', FULL, ['-b', '8080', '-i', '10.0.0.0/8', '--ipv6', 'true']],
    ['TPROXY → TPROXY with another mark and route table', FULL, [...FULL, '-t', '1400', '-r', '140']],
    ['IPv4 and IPv6 → IPv4 only (the IPv6 rules and ::6 go)', FULL, ['-b', '*', '-i', '*', '--ipv6', 'false']],
    ['TPROXY with IPv6 → REDIRECT without IPv6', [...FULL, '-t', '1400', '-r', '140'], ['-i', '*', '--ipv6', 'false']],
  ])('replaces the rules of other flags without leaving old ones behind: %s', async (_name, first, second) => {
    const ns = createNamespace();
    await initOk(ns, [...first, ...backend.args]);
    expect(await snapshot(ns)).toMatch(/fwmark 0x/);
    await initOk(ns, [...second, ...backend.args]);
    const fresh = createNamespace();
    await initOk(fresh, [...second, ...backend.args]);
    // The fingerprint differs by design; a rule's priority is the kernel's choice (one below the
    // lowest present when it was added, which the old rule still was).
    const strip = (s: string) => s.replace(/plan=[0-9a-f]+/g, 'plan').replace(/^\d+:\s/gm, 'PRIORITY: ');
    expect(strip(await snapshot(ns))).toBe(strip(await snapshot(fresh)));
    ns.destroy();
    fresh.destroy();
  });

  it('--cleanup-only removes everything outrigger added and nothing else', async () => {
    const ns = createNamespace();
    // Someone else's rules, chains, tables, routing and address, which must survive.
    await ns.run('iptables-nft', ['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '9', '-j', 'RETURN']);
    await ns.run('iptables-nft', ['-t', 'mangle', '-N', 'OTHER_CHAIN']);
    await ns.run('iptables-nft', ['-t', 'mangle', '-A', 'PREROUTING', '-j', 'OTHER_CHAIN']);
    await ns.run('ip6tables-nft', ['-t', 'raw', '-A', 'OUTPUT', '-p', 'udp', '--dport', '9', '-j', 'ACCEPT']);
    await ns.run('nft', ['-f', '-'], { input: 'table inet other-tool {\n chain out {\n  type filter hook output priority 0; policy accept;\n  tcp dport 9 counter accept\n }\n}\n' });
    await ns.run('ip', ['rule', 'add', 'fwmark', '7', 'lookup', '77']);
    await ns.run('ip', ['-6', 'addr', 'add', '2001:db8:ffff::9/128', 'dev', 'lo']);
    const before = await snapshot(ns);
    expect(before).toContain('table inet other-tool');
    await initOk(ns, FULL_B);
    expect(await snapshot(ns)).not.toBe(before);
    await initOk(ns, ['--cleanup-only', '-m', 'TPROXY']);
    expect(await snapshot(ns)).toBe(before);
    // Cleaning a clean namespace is a no-op.
    await initOk(ns, ['--cleanup-only']);
    expect(await snapshot(ns)).toBe(before);
    ns.destroy();
  });

  it('--cleanup-only finds the policy routing of a TPROXY capture applied with another mark and table', async () => {
    const ns = createNamespace();
    await ns.run('ip', ['rule', 'add', 'fwmark', '7', 'lookup', '77']);
    const before = await snapshot(ns);
    await initOk(ns, [...FULL_B, '-t', '1400', '-r', '140']);
    const applied = await snapshot(ns);
    expect(applied).toMatch(/fwmark 0x578 lookup 140/);
    expect(applied).toMatch(/local default dev lo table 140/);
    await initOk(ns, ['--cleanup-only']);
    expect(await snapshot(ns)).toBe(before);
    ns.destroy();
  });
});

describe('backends', () => {
  it.each([
    ['iptables → nftables', [], ['--native-nftables']],
    ['nftables → iptables', ['--native-nftables'], []],
  ])('switching %s leaves nothing of the other backend, routing included', async (_name, first, second) => {
    const ns = createNamespace();
    await initOk(ns, [...FULL, '-t', '1400', '-r', '140', ...first]);
    await initOk(ns, ['-b', '*', '-i', '*', '--ipv6', 'false', ...second]);
    const fresh = createNamespace();
    await initOk(fresh, ['-b', '*', '-i', '*', '--ipv6', 'false', ...second]);
    const strip = (s: string) => s.replace(/plan=[0-9a-f]+/g, 'plan');
    expect(strip(await snapshot(ns))).toBe(strip(await snapshot(fresh)));
    ns.destroy();
    fresh.destroy();
  });

  it("keeps another tool's iptables rules, and they keep working beside nftables capture", async () => {
    const pair = createPodPair();
    for (const [tool, args] of [
      ['iptables-nft', ['-A', 'INPUT', '-p', 'tcp', '--dport', '9999', '-j', 'REJECT', '--reject-with', 'tcp-reset']],
      ['iptables-legacy', ['-t', 'mangle', '-A', 'OUTPUT', '-p', 'udp', '--dport', '9', '-j', 'ACCEPT']],
    ] as const) expect((await pair.pod.run(tool, [...args])).exitCode).toBe(0);
    const iptables = async () => [await pair.pod.save(4), await pair.pod.save(4, 'legacy')].join('\n').replace(/\[\d+:\d+\]/g, '[0:0]');
    const iptablesBefore = await iptables();
    await initOk(pair.pod, ['-b', '*', '-d', '9999', '-i', '*', '--ipv6', 'true', '--native-nftables']);
    expect(await iptables()).toBe(iptablesBefore);
    await startProbe(pair.pod, { name: 'proxy-inbound', tcp: ['0.0.0.0:15006'], uid: 1337 });
    await startProbe(pair.pod, { name: 'pod-app', tcp: ['0.0.0.0:9999'] });
    expect(await probe(pair.peer, 'tcp', pair.podV4, 9090)).toMatchObject({ listener: 'proxy-inbound' });
    expect(await probe(pair.peer, 'tcp', pair.podV4, 9999)).toMatchObject({ error: expect.stringMatching(/ConnectionResetError|ConnectionRefusedError/) });
    await initOk(pair.pod, ['--cleanup-only']);
    expect(await iptables()).toBe(iptablesBefore);
    pair.destroy();
  });

  it('applies with the legacy backend when forced, and captures', async () => {
    const pair = createPodPair();
    await initOk(pair.pod, ['-i', '*', '--iptables-backend', 'legacy', '--ipv6', 'true']);
    expect(await pair.pod.save(4, 'legacy')).toContain('-A OUTPUT -m comment --comment "outrigger/capture-outbound');
    expect(await pair.pod.save(4, 'nft')).not.toContain('ISTIO');
    await startProbe(pair.pod, { name: 'proxy-outbound', tcp: ['0.0.0.0:15001'], uid: 1337 });
    await startProbe(pair.peer, { name: 'peer-app', tcp: ['0.0.0.0:8080'] });
    expect(await probe(pair.pod, 'tcp', pair.peerV4, 8080, { uid: 1000 })).toMatchObject({ listener: 'proxy-outbound' });
    await initOk(pair.pod, ['-i', '*', '--iptables-backend', 'legacy', '--ipv6', 'true']);
    expect((await pair.pod.save(4, 'legacy')).match(/-A OUTPUT .*ISTIO_OUTPUT/g)).toHaveLength(1);
    pair.destroy();
  });

  it('auto picks legacy when legacy already holds rules in the namespace, else nft (as Istio)', async () => {
    const legacy = createNamespace();
    await legacy.run('iptables-legacy', ['-t', 'filter', '-A', 'INPUT', '-p', 'tcp', '--dport', '9', '-j', 'ACCEPT']);
    await initOk(legacy, ['-i', '*', '--ipv6', 'false']);
    expect(await legacy.save(4, 'legacy')).toContain('ISTIO_OUTPUT');
    expect(await legacy.save(4, 'nft')).not.toContain('ISTIO_OUTPUT');
    const nft = createNamespace();
    await initOk(nft, ['-i', '*', '--ipv6', 'false']);
    expect(await nft.save(4, 'nft')).toContain('ISTIO_OUTPUT');
    legacy.destroy();
    nft.destroy();
  });
});

describe.each(CaptureBackends)('nothing half-applied ($name)', (backend: CaptureBackend) => {
  it('refuses invalid flags with exit 2, naming each, before touching the kernel', async () => {
    const ns = createNamespace();
    await initOk(ns, ['-i', '*', ...backend.args]);
    const before = await snapshot(ns);
    const result = await outrigger(ns, ['init', '-p', '99999', '-i', '10.0.0.0/33', '-x', '*', '-m', 'SOMETIMES', ...backend.args]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--envoy-port (-p) "99999"');
    expect(result.stderr).toContain('--istio-service-cidr (-i) "10.0.0.0/33"');
    expect(result.stderr).toContain('--istio-service-exclude-cidr (-x) "*"');
    expect(result.stderr).toContain('--istio-inbound-interception-mode (-m) "SOMETIMES"');
    expect(await snapshot(ns)).toBe(before);
    ns.destroy();
  });

  it('changes nothing at all, routing included, when the kernel refuses the new rules (a user it cannot resolve)', async () => {
    const ns = createNamespace();
    await initOk(ns, ['-b', '*', '-i', '*', '--ipv6', 'true', ...backend.args]);
    const before = await snapshot(ns);
    const result = await outrigger(ns, ['init', '-m', 'TPROXY', '-b', '*', '-i', '*', '-u', 'no-such-user-here', '--ipv6', 'true', ...quiet, ...backend.args]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(backend.name === 'nftables' ? /nothing was changed: .*User does not exist/s : /the previous rules are intact/);
    expect(await snapshot(ns)).toBe(before);
    ns.destroy();
  });
});

describe('a host without nft', () => {
  it('--native-nftables exits 127 naming nft, touching nothing (routing included); --cleanup-only still works', async () => {
    const ns = createNamespace();
    await initOk(ns, ['-b', '*', '-i', '*', '--ipv6', 'true']);
    const before = await snapshot(ns);
    const result = await outrigger(ns, ['init', '-m', 'TPROXY', '-b', '*', '-i', '*', '--ipv6', 'true', '--native-nftables', ...quiet], { hide: ['/usr/sbin/nft'] });
    expect(result.exitCode).toBe(127);
    expect(result.stderr).toContain('nft was not found on PATH');
    expect(await snapshot(ns)).toBe(before);
    // Without nft no nftables tables of ours can exist: cleanup removes the iptables ones and succeeds.
    expect((await outrigger(ns, ['init', '--cleanup-only', ...quiet], { hide: ['/usr/sbin/nft'] })).exitCode).toBe(0);
    expect(await snapshot(ns)).not.toMatch(/ISTIO_|istio-proxy-/);
    ns.destroy();
  });
});

describe('nothing half-applied (iptables)', () => {
  it('puts the previous rules back when a legacy restore fails after committing (fault injected)', async () => {
    const ns = createNamespace();
    await initOk(ns, ['-i', '*', '-b', '*', '--iptables-backend', 'legacy', '--ipv6', 'false']);
    const before = await ns.save(4, 'legacy');
    // A restore binary that commits for real and then reports failure, as a legacy restore does
    // when a later table fails after earlier tables were committed. Only the exit status is fake.
    const dir = mkdtempSync(join(tmpdir(), 'or-fault-'));
    const wrapper = join(dir, 'iptables-legacy-restore');
    writeFileSync(wrapper, '#!/bin/sh\ncase " $* " in *" --test "*) exec /usr/sbin/iptables-legacy-restore "$@";; esac\ncase " $* " in *" --noflush "*) /usr/sbin/iptables-legacy-restore "$@"; echo "injected failure" >&2; exit 1;; esac\nexec /usr/sbin/iptables-legacy-restore "$@"\n');
    chmodSync(wrapper, 0o755);
    const result = await outrigger(ns, ['init', '-m', 'TPROXY', '-b', '8080', '--iptables-backend', 'legacy', '--ipv6', 'false', ...quiet], {
      env: { PATH: `${dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
    });
    rmSync(dir, { recursive: true, force: true });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('the previous rules are intact');
    const strip = (s: string) => s.replace(/\[\d+:\d+\]/g, '[0:0]');
    expect(strip(await ns.save(4, 'legacy'))).toBe(strip(before));
    expect((await ns.run('ip', ['rule'])).stdout).not.toContain('fwmark');
    ns.destroy();
  });

  it('puts every table back when an nft restore fails in a later table (the kernel refuses, nothing faked)', async () => {
    // iptables-nft-restore commits at each COMMIT line, so a failure in the nat table comes after
    // the mangle table was already changed. The failure here is real: another tool's chain still
    // jumps to ISTIO_OUTPUT_DNS, so the kernel refuses to delete that chain when the new plan drops it.
    const ns = createNamespace();
    await initOk(ns, ['-m', 'TPROXY', '-b', '*', '-i', '*', '--redirect-dns', '--ipv6', 'false']);
    for (const args of [['-N', 'OTHER_TOOL'], ['-A', 'OTHER_TOOL', '-p', 'sctp', '-j', 'ISTIO_OUTPUT_DNS']]) {
      expect((await ns.run('iptables-nft', ['-t', 'nat', ...args])).exitCode).toBe(0);
    }
    const before = await snapshot(ns);
    expect(before).toContain('ISTIO_TPROXY');
    const result = await outrigger(ns, ['init', '-b', '*', '-i', '*', '--ipv6', 'false', ...quiet]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('the previous rules are intact');
    const strip = (s: string) => s.replace(/\[\d+:\d+\]/g, '[0:0]');
    expect(strip(await snapshot(ns))).toBe(strip(before));
    ns.destroy();
  });

});

describe.each(CaptureBackends)('routing conflicts and dry-run ($name)', (backend: CaptureBackend) => {
  it("refuses TPROXY when another route holds the table's local default, and leaves it and the previous capture as they were", async () => {
    // The applier adds the local route without looking first; the kernel's "File exists" is then
    // told apart from our own route (a re-run) by reading the table. Here the route is not ours.
    // The rules went in beside the routing: they are put back as the earlier run left them.
    const ns = createNamespace();
    for (const args of [['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'], ['link', 'set', 'v0', 'up'], ['route', 'add', 'local', 'default', 'dev', 'v0', 'table', '133']]) {
      expect((await ns.run('ip', args)).exitCode).toBe(0);
    }
    await initOk(ns, ['-b', '8080', '-i', '10.0.0.0/8', '--redirect-dns', '--capture-all-dns', '--ipv6', 'false', ...backend.args]);
    const before = await snapshot(ns);
    expect(before).toMatch(/ISTIO_OUTPUT|istio-output/);
    const result = await outrigger(ns, ['init', '-m', 'TPROXY', '-b', '*', '-i', '*', '--ipv6', 'true', ...quiet, ...backend.args]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('ip -4 route add local default dev lo table 133 failed: RTNETLINK answers: File exists');
    expect(await snapshot(ns)).toBe(before);
    expect(before).toContain('local default dev v0 table 133');
    ns.destroy();
  });

  it('--dry-run prints the rules and touches nothing', async () => {
    const ns = createNamespace();
    const before = await snapshot(ns);
    const result = await outrigger(ns, ['init', ...FULL, '--dry-run', '--output', 'json', ...backend.args]);
    expect(result.exitCode).toBe(0);
    if (backend.name === 'nftables') {
      const out = JSON.parse(result.stdout) as { nftables: string };
      expect(out.nftables).toContain('add table inet istio-proxy-mangle');
      expect(out.nftables).toContain('ip6 daddr != ::1/128');
      expect((await outrigger(ns, ['init', ...FULL, '--dry-run', ...backend.args])).stdout.trim()).toBe(out.nftables.trim());
    } else {
      const out = JSON.parse(result.stdout) as { ipv4: string; ipv6: string | null };
      expect(out.ipv4).toContain('*mangle');
      expect(out.ipv6).toContain('::1/128');
    }
    expect(await snapshot(ns)).toBe(before);
    ns.destroy();
  });
});

describe.each(CaptureBackends)('--run-validation ($name)', (backend: CaptureBackend) => {
  it('passes after applying, and exits 126 where traffic is not captured', async () => {
    const ns = createNamespace();
    const ok = await outrigger(ns, ['init', '-i', '*', '-b', '*', '--run-validation', '--probe-timeout', '5s', ...quiet, ...backend.args]);
    expect(ok.stderr).toBe('');
    expect(ok.exitCode).toBe(0);
    // CNI mode: validation alone, as the proxy's uid, in a namespace with rules...
    const asProxy = await outrigger(ns, ['init', '--run-validation', '--skip-rule-apply', ...quiet, ...backend.args], { uid: 1337, gid: 1337 });
    expect(asProxy.exitCode).toBe(0);
    // ...and in one without: the pod escaped capture.
    const bare = createNamespace();
    const failed = await outrigger(bare, ['init', '--run-validation', '--skip-rule-apply', '--probe-timeout', '1s', ...quiet, ...backend.args], { uid: 1337, gid: 1337 });
    expect(failed.exitCode).toBe(126);
    expect(failed.stderr).toContain('iptables validation failed for IPv4');
    ns.destroy();
    bare.destroy();
  });
});

describe.each(CaptureBackends)('--ipv6 auto ($name)', (backend: CaptureBackend) => {
  /** Whether our rules capture IPv6: ip6tables holds them, or our nftables tables lack the IPv6 guard. */
  const capturesIpv6 = async (ns: Namespace): Promise<boolean> => {
    if (backend.name === 'iptables') return (await ns.save(6)).includes('ISTIO_OUTPUT');
    const listed = await listRuleset(ns);
    expect(listed).toContain('table inet istio-proxy-nat');
    return !listed.includes('outrigger/ipv6-not-captured');
  };

  it('plans IPv6 when the pod has a global IPv6 address, and only IPv4 otherwise', async () => {
    const dual = createPodPair();
    await initOk(dual.pod, ['-i', '*', ...backend.args]);
    expect(await capturesIpv6(dual.pod)).toBe(true);
    const v4only = createNamespace();
    // A veth pair inside the namespace (the kernel may lack the dummy module): eth0 gets an IPv4
    // address and, once up with its peer, only a link-local IPv6 address.
    for (const args of [
      ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0-peer'],
      ['addr', 'add', '198.18.200.2/24', 'dev', 'eth0'],
      ['link', 'set', 'eth0-peer', 'up'],
      ['link', 'set', 'eth0', 'up'],
    ]) expect((await v4only.run('ip', args)).exitCode, `ip ${args.join(' ')}`).toBe(0);
    let linkLocal = '';
    for (let i = 0; i < 40 && !linkLocal.includes('fe80::'); i++) {
      linkLocal = (await v4only.run('ip', ['-6', 'addr', 'show', 'dev', 'eth0'])).stdout;
      if (!linkLocal.includes('fe80::')) await new Promise((r) => setTimeout(r, 50));
    }
    expect(linkLocal, 'eth0 has a link-local IPv6 address').toContain('fe80::');
    expect(linkLocal).not.toContain('scope global');
    await initOk(v4only, ['-i', '*', ...backend.args]);
    expect(await capturesIpv6(v4only)).toBe(false);
    expect((await v4only.save(6)).includes('ISTIO')).toBe(false);
    dual.destroy();
    v4only.destroy();
  });
});
