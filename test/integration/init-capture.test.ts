/**
 * `outrigger init` on the real kernel: a pod namespace and a peer joined by a veth, rules applied
 * by the built CLI, and real TCP/UDP connections showing where traffic lands, over IPv4 and IPv6,
 * for both backends (iptables, and nftables with --native-nftables): one case table drives both.
 * Stand-ins: probe-server.py plays the proxy (uid 1337 on 15001/15006/15053) and the apps.
 */

import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPodPair, destroyAllNamespaces, type PodPair, requireRealKernel } from '../helpers/netns.js';
import { outrigger } from '../helpers/outrigger-cli.js';
import { hostPort, probe, startProbe, stopAllProbes } from '../helpers/probes.js';
import { CaptureBackends } from '../helpers/capture-backends.js';
import { listRuleset } from '../helpers/nft.js';

const APP = { uid: 1000, gid: 1000 };
const PROXY = { uid: 1337, gid: 1337 };

beforeAll(() => requireRealKernel(['nft']));
afterEach(() => stopAllProbes());
afterAll(() => destroyAllNamespaces());

async function podWithCapture(args: readonly string[]): Promise<PodPair> {
  const pair = createPodPair();
  const result = await outrigger(pair.pod, ['init', ...args, '--log-level', 'warn']);
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return pair;
}

/** Stand-in proxy (uid 1337) on 15001 and 15006, both families. */
async function startProxy(pair: PodPair): Promise<void> {
  await startProbe(pair.pod, { name: 'proxy-outbound', tcp: ['0.0.0.0:15001', '[::]:15001'], uid: 1337 });
  await startProbe(pair.pod, { name: 'proxy-inbound', tcp: ['0.0.0.0:15006', '[::]:15006'], uid: 1337 });
}

const families = [
  { family: 4 as const, pod: (p: PodPair) => p.podV4, peer: (p: PodPair) => p.peerV4, localhost: '127.0.0.1' },
  { family: 6 as const, pod: (p: PodPair) => p.podV6, peer: (p: PodPair) => p.peerV6, localhost: '::1' },
];
/** Every family with every backend. */
const cases = CaptureBackends.flatMap((backend) => families.map((f) => ({ ...f, backend, name: backend.name })));

describe.each(cases)('REDIRECT capture over IPv$family ($name)', ({ backend, pod, peer, localhost }) => {
  let pair: PodPair;
  beforeAll(async () => {
    pair = await podWithCapture(['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020', '--ipv6', 'true', ...backend.args]);
  });
  afterAll(() => pair.destroy());

  it('holds the rules in the chosen backend only', async () => {
    const iptables = `${await pair.pod.save(4)}${await pair.pod.save(6)}`;
    const nftables = await listRuleset(pair.pod);
    expect(iptables.includes('ISTIO_OUTPUT')).toBe(backend.name === 'iptables');
    expect(nftables.includes('table inet istio-proxy-nat')).toBe(backend.name === 'nftables');
  });

  it("sends an app's outbound connection to 15001 with its original destination", async () => {
    await startProxy(pair);
    await startProbe(pair.peer, { name: 'peer-app', tcp: ['0.0.0.0:8080', '[::]:8080'] });
    const reply = await probe(pair.pod, 'tcp', peer(pair), 8080, APP);
    expect(reply).toMatchObject({ listener: 'proxy-outbound', original_dst: hostPort(peer(pair), 8080), uid: 1337 });
  });

  it("lets the proxy's own uid and gid connect directly", async () => {
    await startProxy(pair);
    await startProbe(pair.peer, { name: 'peer-app', tcp: ['0.0.0.0:8080', '[::]:8080'] });
    expect(await probe(pair.pod, 'tcp', peer(pair), 8080, PROXY)).toMatchObject({ listener: 'peer-app' });
    expect(await probe(pair.pod, 'tcp', peer(pair), 8080, { uid: 1001, gid: 1337 })).toMatchObject({ listener: 'peer-app' });
  });

  it('sends inbound connections to an app port to 15006 with the original destination', async () => {
    await startProxy(pair);
    const reply = await probe(pair.peer, 'tcp', pod(pair), 9090);
    expect(reply).toMatchObject({ listener: 'proxy-inbound', original_dst: hostPort(pod(pair), 9090) });
  });

  it('leaves excluded inbound ports (-d) alone', async () => {
    await startProxy(pair);
    await startProbe(pair.pod, { name: 'pod-stats', tcp: ['0.0.0.0:15090', '[::]:15090'] });
    expect(await probe(pair.peer, 'tcp', pod(pair), 15090)).toMatchObject({ listener: 'pod-stats' });
  });

  it('does not capture localhost traffic', async () => {
    await startProxy(pair);
    await startProbe(pair.pod, { name: 'local-app', tcp: ['127.0.0.1:7070', '[::1]:7070'] });
    expect(await probe(pair.pod, 'tcp', localhost, 7070, APP)).toMatchObject({ listener: 'local-app' });
  });
});

describe.each(cases)('exclusions over IPv$family ($name)', ({ backend, family, pod, peer }) => {
  it('bypasses capture for excluded CIDRs and outbound ports, and captures included ports', async () => {
    const pair = createPodPair();
    try {
      const excluded = family === 4 ? `${pair.peerV4}/32` : `${pair.peerV6}/128`;
      const result = await outrigger(pair.pod, ['init', '-i', '*', '-x', excluded, '-o', '8081', '--ipv6', 'true', '--log-level', 'warn', ...backend.args]);
      expect(result.exitCode).toBe(0);
      await startProxy(pair);
      await startProbe(pair.peer, { name: 'peer-app', tcp: ['0.0.0.0:8080', '[::]:8080', '0.0.0.0:8081', '[::]:8081'] });
      expect(await probe(pair.pod, 'tcp', peer(pair), 8080, APP)).toMatchObject({ listener: 'peer-app' });
      expect((await outrigger(pair.pod, ['init', '-i', '*', '-o', '8081', '--ipv6', 'true', '--log-level', 'warn', ...backend.args])).exitCode).toBe(0);
      expect(await probe(pair.pod, 'tcp', peer(pair), 8080, APP)).toMatchObject({ listener: 'proxy-outbound' });
      expect(await probe(pair.pod, 'tcp', peer(pair), 8081, APP)).toMatchObject({ listener: 'peer-app' });
      // -q captures a port even when no range is captured.
      expect((await outrigger(pair.pod, ['init', '-q', '8081', '--ipv6', 'true', '--log-level', 'warn', ...backend.args])).exitCode).toBe(0);
      expect(await probe(pair.pod, 'tcp', peer(pair), 8080, APP)).toMatchObject({ listener: 'peer-app' });
      expect(await probe(pair.pod, 'tcp', peer(pair), 8081, APP)).toMatchObject({ listener: 'proxy-outbound', original_dst: hostPort(peer(pair), 8081) });
    } finally {
      pair.destroy();
    }
  });

  it('bypasses capture in both directions on an excluded interface', async () => {
    const pair = createPodPair();
    try {
      expect((await outrigger(pair.pod, ['init', '-i', '*', '-b', '*', '-c', pair.podIfname, '--ipv6', 'true', '--log-level', 'warn', ...backend.args])).exitCode).toBe(0);
      await startProxy(pair);
      await startProbe(pair.peer, { name: 'peer-app', tcp: ['0.0.0.0:8080', '[::]:8080'] });
      await startProbe(pair.pod, { name: 'pod-app', tcp: ['0.0.0.0:9090', '[::]:9090'] });
      expect(await probe(pair.pod, 'tcp', peer(pair), 8080, APP)).toMatchObject({ listener: 'peer-app' });
      expect(await probe(pair.peer, 'tcp', pod(pair), 9090)).toMatchObject({ listener: 'pod-app' });
    } finally {
      pair.destroy();
    }
  });

  it('sends DNS over UDP and TCP to the resolv.conf servers to 15053, but not the proxy\'s own', async () => {
    const pair = createPodPair();
    try {
      const resolvConf = `/tmp/or-resolv-${pair.pod.name}.conf`;
      await pair.pod.run('sh', ['-c', `printf 'search svc.cluster.local\\nnameserver ${pair.peerV4}\\nnameserver ${pair.peerV6}\\n' > ${resolvConf}`]);
      expect((await outrigger(pair.pod, ['init', '-i', '*', '--redirect-dns', '--resolv-conf', resolvConf, '--ipv6', 'true', '--log-level', 'warn', ...backend.args])).exitCode).toBe(0);
      await startProbe(pair.pod, { name: 'proxy-dns', udp: ['0.0.0.0:15053', '[::]:15053'], tcp: ['0.0.0.0:15053', '[::]:15053'], uid: 1337 });
      await startProbe(pair.peer, { name: 'upstream-dns', udp: ['0.0.0.0:53', '[::]:53'], tcp: ['0.0.0.0:53', '[::]:53'] });
      expect(await probe(pair.pod, 'udp', peer(pair), 53, APP)).toMatchObject({ listener: 'proxy-dns' });
      expect(await probe(pair.pod, 'tcp', peer(pair), 53, APP)).toMatchObject({ listener: 'proxy-dns', original_dst: hostPort(peer(pair), 53) });
      expect(await probe(pair.pod, 'udp', peer(pair), 53, PROXY)).toMatchObject({ listener: 'upstream-dns' });
    } finally {
      rmSync(`/tmp/or-resolv-${pair.pod.name}.conf`, { force: true });
      pair.destroy();
    }
  });
});

describe.each(cases)('TPROXY inbound over IPv$family ($name)', ({ backend, pod, peer }) => {
  it('delivers inbound connections to 15006 with the original destination as the local address', async () => {
    const pair = await podWithCapture(['-m', 'TPROXY', '-b', '*', '-i', '*', '--ipv6', 'true', ...backend.args]);
    try {
      // The proxy needs IP_TRANSPARENT (CAP_NET_ADMIN) to accept TPROXY'd connections, as Envoy does.
      await startProbe(pair.pod, { name: 'proxy-inbound', tcp: ['0.0.0.0:15006', '[::]:15006'], transparent: true });
      const reply = await probe(pair.peer, 'tcp', pod(pair), 9090);
      expect(reply).toMatchObject({ listener: 'proxy-inbound', local: hostPort(pod(pair), 9090), peer: expect.stringContaining(peer(pair)) });
      const rules = await pair.pod.run('ip', ['rule', 'show']);
      expect(rules.stdout).toMatch(/fwmark 0x539 lookup 133/);
    } finally {
      pair.destroy();
    }
  });

  it('fails closed while the proxy does not listen: an inbound connection never reaches the app uncaptured', async () => {
    const pair = await podWithCapture(['-m', 'TPROXY', '-b', '*', '-i', '*', '--ipv6', 'true', ...backend.args]);
    try {
      // The app listens; nothing listens transparently on 15006 (the proxy is still starting).
      await startProbe(pair.pod, { name: 'pod-app', tcp: ['0.0.0.0:9090', '[::]:9090'] });
      const reply = await probe(pair.peer, 'tcp', pod(pair), 9090, {}, 2);
      expect(reply.listener, JSON.stringify(reply)).toBeUndefined();
      expect(reply.error).toBeDefined();
    } finally {
      pair.destroy();
    }
  });
});
