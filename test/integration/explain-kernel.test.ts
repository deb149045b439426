/**
 * Property (fast-check) on the real kernel: `outrigger explain`'s verdict is what the kernel does.
 * On the pod and peer of test/helpers/verdict-pod.ts (stand-in proxy listeners, apps, a peer), each
 * run applies a random capture configuration with the project's applier on a random backend
 * (iptables nft, iptables legacy, native nftables), drawn from the pair-aware generator of
 * verdict-pod.ts or (one run in four) from the broad generator of init-input-arbitraries.ts, and
 * sometimes next to another tool's rules (a user's REJECT, a RETURN before our jump, a chain of
 * its own, an nft table; some with matches the explainer cannot evaluate). Then, for random
 * connections (outbound as the app, other users and the proxy's ids, to the peer, the pod's own
 * addresses and localhost, TCP and UDP; inbound from the peer):
 *   - the explainer reads the live namespace (cli/explain/read-live-rules.ts: iptables-*-save of
 *     both families, nft list ruleset, addresses, the route) and follows the connection;
 *   - a real connection is made, and the listener it reached (or how it failed) must be the one
 *     the explanation's destination leads to (VerdictListeners says who listens where); when the
 *     explanation is uncertain, the kernel's outcome must be one of the places it names;
 *   - with no rule it cannot evaluate, the explanation must be certain, and the explanation of the
 *     planned rules (no kernel: what --pod or flags mode follows) must end in the same place.
 * Any disagreement fails with the configuration, backend and connection. At the end the run
 * prints how many cases agreed. OUTRIGGER_EXPLAIN_RUNS (default 40) sets the number of
 * configurations; OUTRIGGER_PROPERTY_SEED / _PATH replay a failure.
 */

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { propertyReplay } from '../helpers/property-replay.js';
import { createCommandRunner } from '../../apply/create-command-runner.js';
import type { CommandRunner } from '../../apply/command-runner.js';
import { planCapture } from '../../capture/plan-capture.js';
import { readLiveRules, readRoute } from '../../cli/explain/read-live-rules.js';
import { explain } from '../../cli/explain/explain-command.js';
import type { Connection, PodFacts } from '../../explain/connection.js';
import { familyOf } from '../../explain/connection.js';
import { explainConnection, type Explanation } from '../../explain/explain-connection.js';
import { dispositionKey } from '../../explain/explore-path.js';
import type { Disposition } from '../../explain/follow-packet.js';
import { iptablesTablesOf, nftTablesOf } from '../../explain/plan-ruleset.js';
import { hostOwners } from '../helpers/canonical-rule.js';
import { initInput } from '../helpers/init-input-arbitraries.js';
import { requireRealKernel } from '../helpers/netns.js';
import {
  hostOf, type ProbeConnection, probeOutcome, startVerdictPod, stopVerdictPod, Users, type VerdictInput, verdictInput, VerdictListeners, type VerdictPod, withCapture,
} from '../helpers/verdict-pod.js';

const runs = Number(process.env.OUTRIGGER_EXPLAIN_RUNS ?? 40);
const replay = propertyReplay();

let vp: VerdictPod | undefined;

beforeAll(async () => {
  requireRealKernel(['nft', 'iptables-legacy-save', 'ip6tables-legacy-save', 'iptables-nft-save', 'ip6tables-nft-save']);
  vp = await startVerdictPod();
});

afterAll(() => {
  stopVerdictPod(vp);
});

/** Another tool's rules: iptables lines per table (both families), or an nft table. `unevaluable`: the explainer cannot evaluate one of its matches. */
interface ForeignRules {
  readonly name: string;
  readonly iptables?: Readonly<Record<string, readonly string[]>>;
  readonly nft?: string;
  readonly unevaluable: boolean;
}

const Foreign: readonly ForeignRules[] = [
  { name: 'user REJECT on 8081', iptables: { filter: ['-A OUTPUT -p tcp -m tcp --dport 8081 -j REJECT --reject-with tcp-reset'] }, unevaluable: false },
  { name: 'RETURN before our jump', iptables: { nat: ['-A OUTPUT -p tcp -m tcp --dport 9091 -j RETURN'] }, unevaluable: false },
  { name: 'chain of its own rejecting inbound 9091', iptables: { filter: [':OTHER-INPUT - [0:0]', '-A INPUT -j OTHER-INPUT', '-A OTHER-INPUT -p tcp -m tcp --dport 9091 -m conntrack --ctstate NEW -j REJECT --reject-with tcp-reset'] }, unevaluable: false },
  { name: 'statistic match rejecting 8080', iptables: { filter: ['-A OUTPUT -p tcp -m tcp --dport 8080 -m statistic --mode nth --every 1 --packet 0 -j REJECT --reject-with tcp-reset'] }, unevaluable: true },
  { name: 'nft table rejecting 8081', nft: 'table inet other-tool {\n chain out {\n  type filter hook output priority filter; policy accept;\n  tcp dport 8081 counter reject with tcp reset\n }\n}\n', unevaluable: false },
  { name: 'nft set lookup rejecting 9090', nft: 'table inet other-set {\n set pods {\n  type ipv4_addr\n  elements = { POD4 }\n }\n chain out {\n  type filter hook output priority filter; policy accept;\n  ip daddr @pods tcp dport 9090 counter reject with tcp reset\n }\n}\n', unevaluable: true },
];

const users = fc.constantFrom(Users.app, Users.otherApp, Users.proxy, Users.secondProxyUid, Users.proxyGroupOnly);
const ports = fc.constantFrom(8080, 8081, 9090, 9091, 53, 7070, 15001, 15006, 15053, 15008, 3);
const outboundHosts = fc.constantFrom('PEER4', 'PEER6', 'POD4', 'POD6', '127.0.0.1', '::1');
// UDP mostly where something may answer (DNS; a datagram nobody takes costs the probe's whole time limit,
// 1 s for UDP: an answer over lo or the veth takes well under a millisecond).
const protocolPort: fc.Arbitrary<readonly ['tcp' | 'udp', number]> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constant('tcp' as const), ports) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('udp' as const), fc.constantFrom(53, 53, 15053, 8080)) },
);
const connectionArb: fc.Arbitrary<ProbeConnection> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ pp: protocolPort, host: outboundHosts, as: users })
    .map(({ pp: [kind, port], host, as }) => ({ name: `${as.uid}/${as.gid} → ${host}:${port}/${kind}`, from: 'pod' as const, kind, host, port, as })) },
  { weight: 1, arbitrary: fc.record({ pp: protocolPort, host: fc.constantFrom('POD4', 'POD6') })
    .map(({ pp: [kind, port], host }) => ({ name: `peer → ${host}:${port}/${kind}`, from: 'peer' as const, kind, host, port })) },
);

const owners = hostOwners();
/** A configuration: pair-aware (three in four) or broad (init-input-arbitraries.ts, valid in any pod). */
const configuration: fc.Arbitrary<{ readonly input: VerdictInput; readonly broad: boolean }> = fc.oneof(
  { weight: 3, arbitrary: verdictInput.map((input) => ({ input, broad: false })) },
  { weight: 1, arbitrary: initInput({ users: owners.users, groups: owners.groups }).map((i) => ({ input: { argv: i.argv, env: i.env, resolvConf: i.resolvConf }, broad: true })) },
);

const caseArb = fc.record({
  configuration,
  backend: fc.constantFrom('nft' as const, 'legacy' as const, 'nftables' as const),
  foreign: fc.oneof({ weight: 2, arbitrary: fc.constant([] as ForeignRules[]) }, { weight: 1, arbitrary: fc.subarray([...Foreign], { minLength: 1 }) }),
  connections: fc.uniqueArray(connectionArb, { minLength: 6, maxLength: 14, selector: (c) => c.name }),
});

/** An outbound connection as connectionArb names it. */
const outbound = (as: (typeof Users)[keyof typeof Users], host: string, port: number, kind: 'tcp' | 'udp'): ProbeConnection => ({ name: `${as.uid}/${as.gid} → ${host}:${port}/${kind}`, from: 'pod', kind, host, port, as });

/**
 * Two cases run before the random ones, so every outcome the end of the test counts on is reached on
 * every run (a random draw could miss one): full capture with all DNS redirected on native nftables,
 * beside the two other tools' rules the explainer cannot evaluate (so some verdicts are uncertain);
 * and TPROXY inbound on iptables legacy.
 */
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;
const reachEverywhere: [Case][] = [
  [{
    configuration: { broad: false, input: { argv: ['-i', '*', '-x', '', '-b', '*', '-d', '', '-q', '', '-o', '', '-m', 'REDIRECT', '-u', '1337', '-g', '1337', '--redirect-dns', '--capture-all-dns', '--ipv6', 'true'], env: { ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR: '127.0.0.1/32' }, resolvConf: 'nameserver PEER4\nnameserver PEER6\n' } },
    backend: 'nftables',
    foreign: Foreign.filter((f) => f.unevaluable),
    connections: [
      outbound(Users.app, 'PEER4', 8080, 'tcp'), outbound(Users.app, 'PEER4', 53, 'udp'), outbound(Users.proxy, 'PEER4', 53, 'udp'),
      outbound(Users.app, '127.0.0.1', 7070, 'tcp'), outbound(Users.proxy, 'PEER6', 8081, 'tcp'), outbound(Users.proxy, 'POD6', 9091, 'tcp'),
      outbound(Users.proxy, 'PEER4', 3, 'tcp'), outbound(Users.app, 'PEER6', 3, 'tcp'),
      // Not captured, so they meet the other tools' rules with matches the explainer cannot evaluate.
      outbound(Users.proxy, 'PEER4', 8080, 'tcp'), outbound(Users.proxy, 'POD4', 9090, 'tcp'),
      { name: 'peer → POD4:9091/tcp', from: 'peer', kind: 'tcp', host: 'POD4', port: 9091 },
    ],
  }],
  [{
    configuration: { broad: false, input: { argv: ['-i', 'SUBNET4/24', '-x', '', '-b', '9090', '-d', '', '-q', '', '-o', '', '-m', 'TPROXY', '-u', '1337', '--ipv6', 'false'], env: { ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR: '127.0.0.1/32' }, resolvConf: 'nameserver PEER4\n' } },
    backend: 'legacy',
    foreign: [],
    connections: [
      { name: 'peer → POD4:9090/tcp', from: 'peer', kind: 'tcp', host: 'POD4', port: 9090 },
      { name: 'peer → POD4:9091/tcp', from: 'peer', kind: 'tcp', host: 'POD4', port: 9091 },
      outbound(Users.app, 'PEER4', 8081, 'tcp'), outbound(Users.otherApp, 'PEER6', 8080, 'tcp'),
      outbound(Users.app, 'PEER4', 53, 'udp'), outbound(Users.app, '::1', 7070, 'tcp'),
    ],
  }],
];

async function addForeign(runner: CommandRunner, pod: VerdictPod, foreign: readonly ForeignRules[], iptablesBackend: 'nft' | 'legacy'): Promise<void> {
  for (const rules of foreign) {
    if (rules.nft) {
      const result = await runner.run('nft', ['-f', '-'], { input: rules.nft.replace(/POD4/g, pod.pair.podV4) });
      if (result.exitCode !== 0) throw new Error(`adding ${rules.name} failed: ${result.stderr}`);
    }
    for (const family of [4, 6] as const) {
      const input = Object.entries(rules.iptables ?? {}).map(([table, lines]) => `*${table}\n${lines.join('\n')}\nCOMMIT\n`).join('');
      if (input === '') continue;
      const result = await runner.run(`${family === 4 ? 'iptables' : 'ip6tables'}-${iptablesBackend}-restore`, ['--noflush'], { input });
      if (result.exitCode !== 0) throw new Error(`adding ${rules.name} failed: ${result.stderr}`);
    }
  }
}

/** Removes every other tool's rule: their nft tables, and the iptables tables and rules they used. */
async function removeForeign(runner: CommandRunner, foreign: readonly ForeignRules[], iptablesBackend: 'nft' | 'legacy'): Promise<void> {
  for (const rules of foreign) {
    if (rules.nft) await runner.run('nft', ['delete', 'table', 'inet', rules.nft.split(' ')[2] ?? '']);
    for (const family of [4, 6] as const) {
      const input = Object.entries(rules.iptables ?? {}).map(([table, lines]) => {
        const deletes = lines.filter((l) => l.startsWith('-A')).map((l) => l.replace(/^-A /, '-D '));
        const chains = lines.filter((l) => l.startsWith(':')).map((l) => `-X ${l.slice(1).split(' ')[0]}`);
        return `*${table}\n${deletes.join('\n')}\n${chains.join('\n')}\nCOMMIT\n`;
      }).join('').replace(/\n\n/g, '\n');
      if (input === '') continue;
      const result = await runner.run(`${family === 4 ? 'iptables' : 'ip6tables'}-${iptablesBackend}-restore`, ['--noflush'], { input });
      if (result.exitCode !== 0) throw new Error(`removing ${rules.name} failed: ${result.stderr}`);
    }
  }
}

/**
 * The listener a destination leads to, or how the connection fails, by VerdictListeners. A refused
 * TCP connection is ConnectionRefusedError; a UDP datagram nobody takes times out (an unconnected
 * UDP socket is not told of the ICMP error).
 */
function outcomeOf(d: Disposition, c: ProbeConnection, pod: VerdictPod): string {
  const refused = c.kind === 'tcp' ? 'failed: ConnectionRefusedError' : 'failed: TimeoutError';
  const listenerAt = (where: 'pod' | 'peer', address: string | null, port: number, transparent: boolean): string => {
    const family = address === null ? familyOf(hostOf(pod.pair, c.host)) : familyOf(address);
    const found = VerdictListeners.find((l) => l.where === where && l.protocol === c.kind && l.port === port && (!transparent || l.transparent)
      && ((l.address === '0.0.0.0' && family === 4) || (l.address === '::' && family === 6) || l.address === address));
    return found?.name ?? refused;
  };
  switch (d.kind) {
    case 'local': return listenerAt('pod', d.address, d.port, false);
    case 'tproxy': return listenerAt('pod', null, d.port, true);
    case 'remote': return d.address === pod.pair.peerV4 || d.address === pod.pair.peerV6 ? listenerAt('peer', d.address, d.port, false) : 'failed: TimeoutError';
    case 'dropped': case 'forwarded': return 'failed: TimeoutError';
    case 'rejected': return refused;
    case 'unreachable': return 'failed: OSError';
    case 'unknown': return 'unknown';
  }
}

interface Tally {
  cases: number;
  certain: number;
  uncertain: number;
  planChecked: number;
  outcomes: Set<string>;
  backends: Map<string, number>;
  /** Runs in TPROXY mode, with another tool's rules, from the broad generator. */
  tproxyRuns: number;
  foreignRuns: number;
  broadRuns: number;
}

describe('outrigger explain on the real kernel', () => {
  it('says where random connections go, for random configurations on every backend, as the kernel does', async () => {
    const pod = vp as VerdictPod;
    const tally: Tally = { cases: 0, certain: 0, uncertain: 0, planChecked: 0, outcomes: new Set(), backends: new Map(), tproxyRuns: 0, foreignRuns: 0, broadRuns: 0 };
    const transparentListeners = VerdictListeners.filter((l) => l.where === 'pod' && l.transparent).map((l) => ({ family: familyOf(l.address) ?? 4, port: l.port }));
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ configuration: { input, broad }, backend, foreign, connections }) => {
        const runner = createCommandRunner({ netnsPath: pod.pair.pod.path });
        const iptablesBackend = backend === 'legacy' ? 'legacy' : 'nft';
        await addForeign(runner, pod, foreign, iptablesBackend);
        try {
          await withCapture(pod, input, backend, async ({ parsed, facts: hostFacts }) => {
            if (parsed.capture.inboundInterceptionMode === 'TPROXY') tally.tproxyRuns++;
            if (foreign.length > 0) tally.foreignRuns++;
            if (broad) tally.broadRuns++;
            const live = await readLiveRules(runner, pod.pair.pod.path);
            const ruleset = { tables: live.tables, inputs: live.inputs, notes: live.notes };
            const plan = planCapture(parsed.capture, hostFacts);
            const planned = { tables: parsed.capture.nativeNftables ? nftTablesOf(plan) : iptablesTablesOf(plan), inputs: [], notes: [] };
            const unevaluable = foreign.some((f) => f.unevaluable);
            for (const c of connections) {
              const destination = hostOf(pod.pair, c.host);
              const connection: Connection = c.from === 'pod'
                ? { direction: 'outbound', protocol: c.kind, destination, destinationPort: c.port, uid: c.as?.uid ?? 0, gid: c.as?.gid ?? 0 }
                : { direction: 'inbound', protocol: c.kind, destination, destinationPort: c.port, source: familyOf(destination) === 4 ? pod.pair.peerV4 : pod.pair.peerV6, interface: 'eth0' };
              const baseFacts: PodFacts = { interfaces: live.interfaces, addressesComplete: true, transparentListeners };
              const route = connection.direction === 'outbound' ? await readRoute(runner, pod.pair.pod.path, connection) : undefined;
              const facts: PodFacts = route ? { ...baseFacts, route } : baseFacts;
              const explanation: Explanation = explainConnection({ ruleset, connection, facts, settings: { kind: 'rules' } });
              const observed = await probeOutcome(pod, c, c.kind === 'udp' ? 1 : 2);
              const expected = [explanation.run.disposition, ...explanation.alternatives.map((a) => a.run.disposition)].map((d) => outcomeOf(d, c, pod));
              const context = `backend ${backend}, ${broad ? 'broad' : 'pair-aware'} configuration ${JSON.stringify(input)}, other tools: ${JSON.stringify(foreign.map((f) => f.name))}, connection ${c.name}\n` +
                `explanation: ${explanation.verdict.words}${explanation.certain ? '' : ` (uncertain; alternatives: ${explanation.alternatives.map((a) => a.verdict.words).join(' | ')})`}`;
              tally.cases++;
              tally.outcomes.add(observed);
              tally.backends.set(backend, (tally.backends.get(backend) ?? 0) + 1);
              if (explanation.certain) {
                tally.certain++;
                expect(observed, context).toBe(expected[0]);
              } else {
                tally.uncertain++;
                expect(unevaluable, `uncertain with no rule it cannot evaluate: ${context}`).toBe(true);
                expect(expected, context).toContain(observed);
              }
              if (!unevaluable && foreign.length === 0) {
                // No kernel: the planned rules (what --pod and flags mode follow) end in the same place.
                // (Owner names stay names in a plan, so there the explanation may be uncertain: then the kernel's place is among its places.)
                const fromPlan = explainConnection({ ruleset: planned, connection, facts, settings: { kind: 'flags' } });
                const plannedPlaces = [fromPlan.run, ...fromPlan.alternatives.map((a) => a.run)].map((r) => dispositionKey(r.disposition));
                if (fromPlan.certain) expect(plannedPlaces[0], `planned rules: ${context}`).toBe(dispositionKey(explanation.run.disposition));
                else expect(plannedPlaces, `planned rules (uncertain): ${context}`).toContain(dispositionKey(explanation.run.disposition));
                tally.planChecked++;
              }
            }
            // The command itself, once per run: the same verdict through the CLI's JSON.
            const first = connections[0] as ProbeConnection;
            if (first.from === 'pod') {
              let out = '';
              const code = await explain(['--network-namespace', pod.pair.pod.path, '--to', `${hostOf(pod.pair, first.host).includes(':') ? `[${hostOf(pod.pair, first.host)}]` : hostOf(pod.pair, first.host)}:${first.port}`, '-p', first.kind, '--uid', String(first.as?.uid ?? 0), '--gid', String(first.as?.gid ?? 0), '-o', 'json'], { stdout: (t) => (out += t), stderr: () => {} });
              expect(code).toBe(0);
              const json = JSON.parse(out) as { verdict: { kind: string } };
              expect(['captured', 'dns', 'direct', 'dropped', 'rejected', 'redirected', 'forwarded', 'unreachable', 'unknown']).toContain(json.verdict.kind);
            }
          });
        } finally {
          await removeForeign(runner, foreign, iptablesBackend);
        }
      }),
      { numRuns: runs, examples: reachEverywhere, ...replay },
    );
    // Every case agreed (a disagreement fails the property before this line).
    console.log(`explain-kernel: ${tally.cases}/${tally.cases} cases agreed with the kernel (${tally.certain} certain, ${tally.uncertain} uncertain with the kernel's outcome among the alternatives); ${tally.planChecked} also checked against the planned rules; per backend ${JSON.stringify(Object.fromEntries(tally.backends))}; runs in TPROXY mode ${tally.tproxyRuns}, with other tools' rules ${tally.foreignRuns}, from the broad generator ${tally.broadRuns}; outcomes seen ${[...tally.outcomes].sort().join(', ')}`);
    if (runs >= 40 && !('path' in replay)) {
      expect(tally.cases).toBeGreaterThanOrEqual(200);
      expect([...tally.outcomes]).toEqual(expect.arrayContaining(['local-app', 'peer-app', 'pod-app', 'proxy-dns', 'proxy-inbound', 'proxy-outbound', 'upstream-dns', 'failed: ConnectionRefusedError']));
      expect(tally.uncertain).toBeGreaterThan(0);
      expect([tally.tproxyRuns, tally.foreignRuns, tally.broadRuns].every((n) => n > 0), 'TPROXY, other tools and broad configurations each reached').toBe(true);
      expect([...tally.backends.keys()].sort()).toEqual(['legacy', 'nft', 'nftables']);
    }
  }, 1_800_000);
});

