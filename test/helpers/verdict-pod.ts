/**
 * A pod and a peer on the real kernel where capture configurations are applied one after the
 * other and real connections show where traffic goes (shared by backend-verdicts-kernel.test.ts
 * and explain-kernel.test.ts): the pair (veth, IPv4 and IPv6), stand-in listeners described as data
 * (VerdictListeners: which name answers on which namespace, protocol, address and port, and
 * whether it is transparent, so a test can also say where a connection should land), the users
 * connections are made as, a fast-check arbitrary of configurations drawn around the pair's own
 * addresses and ports (so rules match the connections often), and applying a configuration with
 * the project's applier for a run, cleaned up after it whatever happens.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { applyCapture, cleanupCapture } from '../../apply/apply-capture.js';
import { createCommandRunner } from '../../apply/create-command-runner.js';
import { gatherHostFacts } from '../../apply/gather-host-facts.js';
import type { HostFacts } from '../../capture/capture-config.js';
import { parseInitFlags, type ParsedInit } from '../../init/parse-init-flags.js';
import { holdsCapture } from './capture-backends.js';
import { createPodPair, destroyAllNamespaces, type Namespace, type PodPair } from './netns.js';
import { probe, startProbe, stopAllProbes } from './probes.js';

export const Users = {
  app: { uid: 1000, gid: 1000 },
  otherApp: { uid: 1001, gid: 1002 },
  proxy: { uid: 1337, gid: 1337 },
  secondProxyUid: { uid: 1500, gid: 1000 },
  proxyGroupOnly: { uid: 1003, gid: 1600 },
} as const;
export type User = (typeof Users)[keyof typeof Users];

export interface Listener {
  readonly name: string;
  readonly where: 'pod' | 'peer';
  readonly protocol: 'tcp' | 'udp';
  /** `0.0.0.0` / `::` for every address of the family. */
  readonly address: string;
  readonly port: number;
  readonly transparent: boolean;
  /** The uid the listener runs as (none: root). */
  readonly uid?: number;
}

const both = (name: string, where: 'pod' | 'peer', protocol: 'tcp' | 'udp', port: number, extra: Partial<Listener> = {}): Listener[] => [
  { name, where, protocol, address: '0.0.0.0', port, transparent: false, ...extra },
  { name, where, protocol, address: '::', port, transparent: false, ...extra },
];

/** Every listener of the pair: the stand-in proxy's three, the apps' and the peer's. */
export const VerdictListeners: readonly Listener[] = [
  ...both('proxy-outbound', 'pod', 'tcp', 15001, { uid: 1337 }),
  // Transparent (root) so TPROXY can hand it connections; REDIRECT'd ones reach it as well.
  ...both('proxy-inbound', 'pod', 'tcp', 15006, { transparent: true }),
  ...both('proxy-dns', 'pod', 'tcp', 15053, { uid: 1337 }),
  ...both('proxy-dns', 'pod', 'udp', 15053, { uid: 1337 }),
  ...both('pod-app', 'pod', 'tcp', 9090),
  ...both('pod-app', 'pod', 'tcp', 9091),
  { name: 'local-app', where: 'pod', protocol: 'tcp', address: '127.0.0.1', port: 7070, transparent: false },
  { name: 'local-app', where: 'pod', protocol: 'tcp', address: '::1', port: 7070, transparent: false },
  ...both('peer-app', 'peer', 'tcp', 8080),
  ...both('peer-app', 'peer', 'tcp', 8081),
  ...both('upstream-dns', 'peer', 'tcp', 53),
  ...both('upstream-dns', 'peer', 'udp', 53),
];

export interface VerdictPod {
  readonly pair: PodPair;
  readonly dir: string;
}

const spec = (l: Listener): string => (l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`);

/** The pair with every listener up, the first IPv6 contact settled; stop with stopVerdictPod(). */
export async function startVerdictPod(): Promise<VerdictPod> {
  const dir = mkdtempSync(join(tmpdir(), 'or-verdicts-'));
  const pair = createPodPair();
  // One probe server per (name, namespace, uid, transparent), serving all its addresses and ports.
  const groups = new Map<string, Listener[]>();
  for (const l of VerdictListeners) {
    const key = `${l.name} ${l.where} ${l.uid ?? ''} ${l.transparent}`;
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  for (const listeners of groups.values()) {
    const first = listeners[0] as Listener;
    await startProbe(first.where === 'pod' ? pair.pod : pair.peer, {
      name: first.name,
      tcp: listeners.filter((l) => l.protocol === 'tcp').map(spec),
      udp: listeners.filter((l) => l.protocol === 'udp').map(spec),
      ...(first.uid !== undefined ? { uid: first.uid } : {}),
      ...(first.transparent ? { transparent: true } : {}),
      maxSeconds: 1800,
    });
  }
  // A fresh veth's first IPv6 contact waits for neighbour discovery: settle it before measuring.
  for (const host of [pair.peerV4, pair.peerV6]) {
    let reply = await probe(pair.pod, 'tcp', host, 8080, Users.app, 2);
    for (let i = 0; i < 20 && reply.listener !== 'peer-app'; i++) reply = await probe(pair.pod, 'tcp', host, 8080, Users.app, 2);
    if (reply.listener !== 'peer-app') throw new Error(`the peer does not answer on ${host}: ${JSON.stringify(reply)}`);
  }
  return { pair, dir };
}

export function stopVerdictPod(pod: VerdictPod | undefined): void {
  stopAllProbes();
  destroyAllNamespaces();
  if (pod) rmSync(pod.dir, { recursive: true, force: true });
}

/** Placeholders for the pair's addresses in generated values, filled in per run. */
export function fillAddresses(text: string, pair: PodPair): string {
  const subnet4 = pair.peerV4.replace(/\.1$/, '.0');
  const subnet6 = pair.peerV6.replace(/::1$/, '::');
  return text.replace(/PEER4/g, pair.peerV4).replace(/PEER6/g, pair.peerV6).replace(/POD4/g, pair.podV4).replace(/SUBNET4/g, subnet4).replace(/SUBNET6/g, subnet6);
}

export interface VerdictInput {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly resolvConf: string;
}

const cidr = fc.constantFrom('PEER4/32', 'SUBNET4/24', '198.18.0.0/15', 'PEER6/128', 'SUBNET6/64', '2001:db8::/32', '10.0.0.0/8', '127.0.0.1/32', '127.0.0.0/8', '::1/128', 'POD4/32');
const cidrs = fc.uniqueArray(cidr, { maxLength: 3 }).map((l) => l.join(','));
const port = fc.constantFrom(8080, 8081, 9090, 9091, 53, 7070);
const ports = fc.uniqueArray(port, { maxLength: 2 }).map((l) => l.join(','));

/** Configurations drawn around the pair's addresses and ports (placeholders: fillAddresses). */
export const verdictInput: fc.Arbitrary<VerdictInput> = fc.record({
  include: fc.oneof(fc.constant('*'), fc.constant(''), cidrs),
  exclude: cidrs,
  inbound: fc.oneof(fc.constant('*'), fc.constant(''), ports),
  inboundExclude: ports,
  outboundInclude: ports,
  outboundExclude: ports,
  mode: fc.constantFrom('REDIRECT', 'TPROXY'),
  uids: fc.constantFrom('1337', '1337,1500'),
  gids: fc.constantFrom(null, '1337', '1337,1600'),
  dns: fc.constantFrom('off', 'servers', 'all'),
  dropInvalid: fc.boolean(),
  excludeInterface: fc.boolean(),
  kubeVirt: fc.boolean(),
  ipv6: fc.constantFrom('true', 'false', 'auto'),
  groups: fc.constantFrom<[string, string] | null>(null, ['ISTIO_OUTBOUND_OWNER_GROUPS', '1000'], ['ISTIO_OUTBOUND_OWNER_GROUPS', '1002'], ['ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE', '1000'], ['ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE', '1002']),
  loopback: fc.constantFrom('127.0.0.1/32', '127.0.0.0/8'),
  servers: fc.constantFrom('nameserver PEER4\nnameserver PEER6\n', 'nameserver PEER4\n', 'nameserver 10.96.0.10\n'),
}).map((v) => ({
  argv: [
    '-i', v.include, '-x', v.exclude, '-b', v.inbound, '-d', v.inboundExclude, '-q', v.outboundInclude, '-o', v.outboundExclude,
    '-m', v.mode, '-u', v.uids, ...(v.gids ? ['-g', v.gids] : []),
    ...(v.dns !== 'off' ? ['--redirect-dns'] : []), ...(v.dns === 'all' ? ['--capture-all-dns'] : []),
    ...(v.dropInvalid ? ['--drop-invalid'] : []), ...(v.excludeInterface ? ['-c', 'eth0'] : []), ...(v.kubeVirt ? ['-k', 'eth0'] : []),
    '--ipv6', v.ipv6,
  ],
  env: { ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR: v.loopback, ...(v.groups ? { [v.groups[0]]: v.groups[1] } : {}) },
  resolvConf: v.servers,
}));

export interface ProbeConnection {
  readonly name: string;
  readonly from: 'pod' | 'peer';
  readonly kind: 'tcp' | 'udp';
  /** An address of the pair: PEER4, PEER6, POD4, POD6, or a loopback address. */
  readonly host: string;
  readonly port: number;
  /** Outbound: the socket's owner. */
  readonly as?: User;
}

export function hostOf(pair: PodPair, host: string): string {
  return ({ PEER4: pair.peerV4, PEER6: pair.peerV6, POD4: pair.podV4, POD6: pair.podV6 } as Record<string, string>)[host] ?? host;
}

/** Where a connection landed (a listener's name) or how it failed (`failed: TimeoutError`). */
export async function probeOutcome(vp: VerdictPod, c: ProbeConnection, limitSeconds = 2): Promise<string> {
  const from: Namespace = c.from === 'pod' ? vp.pair.pod : vp.pair.peer;
  const reply = await probe(from, c.kind, hostOf(vp.pair, c.host), c.port, c.as ?? {}, limitSeconds);
  return reply.listener ?? `failed: ${(reply.error ?? '').split(':')[0]}`;
}

export interface AppliedCapture {
  readonly parsed: ParsedInit;
  readonly facts: HostFacts;
}

/**
 * Applies `input` (placeholders filled) in the pod with the project's applier, on the given backend
 * (`--iptables-backend` for iptables, `--native-nftables`), runs `fn`, then cleans up and checks that
 * nothing of ours is left.
 */
export async function withCapture<T>(vp: VerdictPod, input: VerdictInput, backend: 'auto' | 'nft' | 'legacy' | 'nftables', fn: (applied: AppliedCapture) => Promise<T>): Promise<T> {
  const resolvConfPath = join(vp.dir, 'resolv.conf');
  writeFileSync(resolvConfPath, fillAddresses(input.resolvConf, vp.pair));
  const backendArgs = backend === 'nftables' ? ['--native-nftables'] : backend === 'auto' ? [] : ['--iptables-backend', backend];
  const parsed = parseInitFlags([...input.argv.map((a) => fillAddresses(a, vp.pair)), '--resolv-conf', resolvConfPath, ...backendArgs], Object.fromEntries(Object.entries(input.env).map(([k, v]) => [k, fillAddresses(v, vp.pair)])));
  if (parsed.kind !== 'run') throw new Error('unexpected --help');
  const runner = createCommandRunner({ netnsPath: vp.pair.pod.path });
  const facts = await gatherHostFacts(parsed.capture, { ipv6: parsed.options.ipv6, resolvConfPath, runner, inOwnNamespace: false });
  await applyCapture({ config: parsed.capture, facts, runner, backend: parsed.options.backend, inOwnNamespace: false });
  try {
    return await fn({ parsed, facts });
  } finally {
    await cleanupCapture({ config: parsed.capture, runner, backend: parsed.options.backend, inOwnNamespace: false });
    if (await holdsCapture(vp.pair.pod)) throw new Error('cleanup left rules behind');
    if (backend === 'legacy') {
      const saved = await Promise.all(['iptables-legacy-save', 'ip6tables-legacy-save'].map((tool) => vp.pair.pod.run(tool, [])));
      if (saved.some((r) => /ISTIO_|outrigger\//.test(r.stdout))) throw new Error('cleanup left legacy rules behind');
    }
  }
}
