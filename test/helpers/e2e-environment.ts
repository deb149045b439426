/**
 * The end-to-end tests' shared start: checks root and the tools, builds the images (cached: the
 * first run makes the Debian base with debootstrap, later runs take seconds), creates a podman setup
 * of the test's own and a private dual-stack network (one bridge, 198.18.x.0/24 and 2001:db8:x::/64 per
 * run, no gateway, no NAT; each network hands out its own part of the subnets), and plays the peer pod whose app answers on 8080.
 * Also: one bounded connection from inside a container, and the check that an app's outbound
 * connection went through the stand-in proxy. `stop()` removes every pod, bridge and IPAM record
 * the run made, whatever state it is in.
 */

import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createPodmanSetup, createPodNetwork, playKube, type PodmanSetup, type PodNetwork, podIp6, podIptables, podman, podNftables, removePodNetworks, removePods, run, runOk } from './podman.js';

export const E2eFixtures = 'test/fixtures/e2e';

/** An injector config file: the fixture, with the capture baseline's native nftables switched on when asked. */
export function injectorConfigFor(dir: string, fixture: string, nativeNftables: boolean): string {
  const source = `${E2eFixtures}/${fixture}`;
  if (!nativeNftables) return source;
  const path = join(dir, `nft-${fixture}`);
  writeFileSync(path, `${readFileSync(source, 'utf8')}capture:\n  nativeNftables: true\n`);
  return path;
}
export const Cli = 'dist/outrigger.mjs';

export interface E2eEnvironment {
  readonly id: string;
  readonly dir: string;
  readonly setup: PodmanSetup;
  /** The plain network (no chained plugin): .10-.99 of the run's subnet. */
  readonly network: PodNetwork;
  readonly peer: string;
  /** Adds a network on the same bridge and subnet over [first, last] of its host numbers. */
  addNetwork(name: string, first: number, last: number, chained?: readonly object[], fileName?: string): PodNetwork;
  /** Pods to remove at stop(), beside the peer. */
  track(pod: string): void;
  stop(): void;
}

export function startE2eEnvironment(): E2eEnvironment {
  if (process.getuid?.() !== 0) throw new Error('the podman end-to-end tests need root (pods with NET_ADMIN init containers, nsenter); run npm test as root');
  for (const tool of ['podman', 'nsenter', 'ip']) {
    if (run('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed: run bash scripts/setup-host.sh`);
  }
  runOk('bash', ['scripts/build-images.sh'], { timeoutMs: 1_500_000 });
  const id = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-e2e-'));
  const setup = createPodmanSetup(dir);
  const octet = randomInt(100, 250);
  const networks: PodNetwork[] = [];
  const pods: string[] = [];
  const addNetwork = (name: string, first: number, last: number, chained: readonly object[] = [], fileName?: string): PodNetwork => {
    const network = createPodNetwork(setup, {
      name: `${name}-${id}`, bridge: `ore2e${id}`,
      subnet: `198.18.${octet}.0/24`, rangeStart: `198.18.${octet}.${first}`, rangeEnd: `198.18.${octet}.${last}`,
      subnet6: `2001:db8:${octet}::/64`, range6: { rangeStart: `2001:db8:${octet}::${first.toString(16)}`, rangeEnd: `2001:db8:${octet}::${last.toString(16)}` },
    }, chained, fileName);
    networks.push(network);
    return network;
  };
  const peer = `peer-${id}`;
  pods.push(peer);
  const stop = () => {
    removePods(setup, pods);
    removePodNetworks(networks);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }); // podman's cleanup may lag
  };
  try {
    const network = addNetwork('or-e2e', 10, 99);
    const peerPath = join(dir, 'peer-pod.yaml');
    writeFileSync(peerPath, readFileSync(`${E2eFixtures}/peer-pod.yaml`, 'utf8').replace('name: peer', `name: ${peer}`));
    playKube(setup, network, peerPath);
    return { id, dir, setup, network, peer, addNetwork, track: (pod) => pods.push(pod), stop };
  } catch (error) {
    stop();
    throw error;
  }
}

export interface ConnectResult {
  client_uid: number;
  target: string;
  lines: Record<string, unknown>[];
  error?: string;
}

/** One bounded TCP connection from inside a container (stand-in-proxy.py connect: 3 s timeout). */
export function connectFrom(setup: PodmanSetup, container: string, host: string, port: number): ConnectResult {
  const result = podman(setup, ['exec', container, '/usr/local/bin/stand-in-proxy.py', 'connect', host, String(port)], 20_000);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ConnectResult;
  } catch {
    throw new Error(`connect from ${container} to ${host}:${port} printed no result (exit ${result.status}): ${result.stderr}${result.stdout}`);
  }
}

/** `host:port` as the stand-in prints it (`[v6]:port` for IPv6). */
export const hostPort = (host: string, port: number | string): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** The pod's app (uid 1000) reached the peer through the proxy (uid 1337), original destination kept. */
export function expectCapturedOutbound(setup: PodmanSetup, pod: string, podAddress: string, peerAddress: string): void {
  const out = connectFrom(setup, `${pod}-app`, peerAddress, 8080);
  expect(out.error).toBeUndefined();
  expect(out.client_uid).toBe(1000);
  expect(out.lines).toHaveLength(2);
  expect(out.lines[0]).toMatchObject({ via: 'stand-in-proxy', listener: 'outbound', original_dst: hostPort(peerAddress, 8080), uid: 1337 });
  // The proxy's upstream connection reached the peer from the pod's address, and was not captured again.
  expect(out.lines[1]).toMatchObject({ app: 'peer', local: hostPort(peerAddress, 8080) });
  expect(String(out.lines[1]?.peer).startsWith(`${hostPort(podAddress, '')}`)).toBe(true);
}

/**
 * IPv6 on the dual-stack network, for a pod captured either way (proxy-init or the CNI plugin) and
 * with either backend: ip6tables (or our inet tables, without the IPv6 guard) holds the capture,
 * the app's outbound goes through the proxy, the proxy's own goes direct, and inbound reaches the
 * proxy (uid 1337) and then the app `app` (uid 1000) from ::6.
 */
export function expectCapturedOverIpv6(setup: PodmanSetup, pod: string, peer: string, app: string, backend: 'iptables' | 'nftables' = 'iptables'): void {
  const podAddress = podIp6(setup, pod);
  const peerAddress = podIp6(setup, peer);
  if (backend === 'iptables') expect(podIptables(setup, pod, 'ip6tables-save')).toMatch(/outrigger\/to-outbound-listener" -j REDIRECT --to-ports 15001/);
  else {
    const listed = podNftables(setup, pod);
    expect(listed).toMatch(/ip6 saddr ::6 counter\s+return comment "outrigger\/inbound-passthrough"/);
    expect(listed).not.toContain('outrigger/ipv6-not-captured');
  }
  expectCapturedOutbound(setup, pod, podAddress, peerAddress);
  const direct = connectFrom(setup, `${pod}-proxy`, peerAddress, 8080);
  expect(direct.lines).toEqual([expect.objectContaining({ app: 'peer', local: hostPort(peerAddress, 8080) })]);
  const inbound = connectFrom(setup, `${peer}-app`, podAddress, 8080);
  expect(inbound.error).toBeUndefined();
  expect(inbound.lines[0]).toMatchObject({ via: 'stand-in-proxy', listener: 'inbound', original_dst: hostPort(podAddress, 8080), uid: 1337 });
  expect(inbound.lines[1]).toMatchObject({ app, local: hostPort(podAddress, 8080), uid: 1000 });
  expect(String(inbound.lines[1]?.peer)).toMatch(/^\[::6\]:\d+$/);
}
