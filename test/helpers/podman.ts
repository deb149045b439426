/**
 * Podman as the end-to-end test's pod runtime: private CNI networks (a bridge with no gateway and
 * no NAT on a 198.18.x.0/24 subnet, in configuration of the test's own, so the host's networks,
 * firewall, /etc/cni and /etc/containers are untouched), `podman kube play` of Pod YAML, pod addresses and
 * network-namespace pids, exec into containers, and cleanup that tolerates what is already gone.
 * Every podman call is bounded in time and names the command when it fails.
 */

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CommandResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(file: string, args: readonly string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CommandResult {
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, input: options.input, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`${file} ${args.join(' ')}: ${result.error.message}`);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function runOk(file: string, args: readonly string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): string {
  const result = run(file, args, options);
  if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

/**
 * The test's podman setup: a CNI configuration directory (`--cni-config-dir`) and a containers.conf
 * of its own (CONTAINERS_CONF) that adds the test's CNI plugin directory, so nothing under /etc
 * changes. Every podman call of the test goes through it: tearing a pod down runs the same plugins.
 */
export interface PodmanSetup {
  readonly dir: string;
  readonly confDir: string;
  /** Searched first: the test's shims. */
  readonly pluginDir: string;
  /** Searched second: a node's /opt/cni/bin, where `outrigger cni install` puts the plugin. */
  readonly nodeBinDir: string;
  readonly env: NodeJS.ProcessEnv;
}

export function createPodmanSetup(dir: string): PodmanSetup {
  const confDir = join(dir, 'net.d');
  const pluginDir = join(dir, 'cni-bin');
  const nodeBinDir = join(dir, 'node-bin');
  for (const d of [confDir, pluginDir, nodeBinDir]) mkdirSync(d, { recursive: true });
  const containersConf = join(dir, 'containers.conf');
  // The same settings scripts/setup-host.sh writes system-wide, plus the test's plugin directory.
  writeFileSync(containersConf, [
    '[containers]', 'default_ulimits = []', '', '[engine]', 'runtime = "runc"', '', '[network]',
    `cni_plugin_dirs = ${JSON.stringify([pluginDir, nodeBinDir, '/usr/local/libexec/cni', '/usr/libexec/cni', '/usr/local/lib/cni', '/usr/lib/cni', '/opt/cni/bin'])}`, '',
  ].join('\n'));
  return { dir, confDir, pluginDir, nodeBinDir, env: { ...process.env, CONTAINERS_CONF: containersConf } };
}

/** A CNI network of the test's own: name, bridge, subnets (IPv4, and IPv6 for dual stack). */
export interface PodNetwork {
  readonly name: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly subnet6?: string;
}

/** The part of a subnet host-local hands out. */
export interface AddressRange {
  readonly rangeStart: string;
  readonly rangeEnd: string;
}

/**
 * Writes a conflist: bridge (isGateway false, ipMasq false: nothing reaches or leaves through the
 * host) with host-local IPAM over the given ranges of the subnets (IPv4, and IPv6 when `subnet6` is
 * set: the bridge plugin waits for IPv6 duplicate address detection), then `chained` plugins (CNI
 * mode). Networks on the same bridge and subnets with disjoint ranges share one L2 segment.
 */
export function createPodNetwork(setup: PodmanSetup, network: PodNetwork & AddressRange & { range6?: AddressRange }, chained: readonly object[] = [], fileName = network.name): PodNetwork {
  const ranges: object[][] = [[{ subnet: network.subnet, rangeStart: network.rangeStart, rangeEnd: network.rangeEnd }]];
  if (network.subnet6 && network.range6) ranges.push([{ subnet: network.subnet6, ...network.range6 }]);
  const conflist = {
    cniVersion: '0.4.0',
    name: network.name,
    plugins: [
      { type: 'bridge', bridge: network.bridge, isGateway: false, ipMasq: false, hairpinMode: true, ipam: { type: 'host-local', ranges } },
      ...chained,
    ],
  };
  writeFileSync(join(setup.confDir, `${fileName}.conflist`), JSON.stringify(conflist, null, 2));
  return { name: network.name, bridge: network.bridge, subnet: network.subnet, ...(network.subnet6 ? { subnet6: network.subnet6 } : {}) };
}

/** Removes the bridge and host-local's address records the networks left on the host. */
export function removePodNetworks(networks: readonly PodNetwork[]): void {
  for (const bridge of new Set(networks.map((n) => n.bridge))) run('ip', ['link', 'del', bridge]);
  for (const network of networks) rmSync(`/var/lib/cni/networks/${network.name}`, { recursive: true, force: true });
}

export function podman(setup: PodmanSetup, args: readonly string[], timeoutMs = 120_000): CommandResult {
  return run('podman', ['--cni-config-dir', setup.confDir, ...args], { timeoutMs, env: setup.env });
}

export function podmanOk(setup: PodmanSetup, args: readonly string[], timeoutMs = 120_000): string {
  const result = podman(setup, args, timeoutMs);
  if (result.status !== 0) throw new Error(`podman ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** `podman kube play` of one YAML file on the network; returns podman's report. */
export function playKube(setup: PodmanSetup, network: PodNetwork, yamlPath: string): string {
  return podmanOk(setup, ['kube', 'play', '--network', network.name, yamlPath], 180_000);
}

/**
 * `podman kube play` without blocking the event loop: for tests whose API stand-in runs in the test
 * process and must answer the CNI plugin while podman sets the pod up. Bounded like the rest.
 */
export function playKubeAsync(setup: PodmanSetup, network: PodNetwork, yamlPath: string, timeoutMs = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', ['--cni-config-dir', setup.confDir, 'kube', 'play', '--network', network.name, yamlPath], { env: setup.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => { clearTimeout(timer); reject(error); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`podman kube play --network ${network.name} ${yamlPath} exited ${code}:\n${stderr}${stdout}`));
    });
  });
}

/** Force-removes pods by name (missing pods are fine): stop at once, no grace period. */
export function removePods(setup: PodmanSetup, names: readonly string[]): void {
  for (const name of names) podman(setup, ['pod', 'rm', '--force', '--time', '0', name]);
}

function infraContainer(setup: PodmanSetup, pod: string): string {
  return podmanOk(setup, ['pod', 'inspect', pod, '--format', '{{.InfraContainerID}}']).trim();
}

export function podIp(setup: PodmanSetup, pod: string): string {
  const ip = podmanOk(setup, ['inspect', infraContainer(setup, pod), '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}']).trim();
  if (!/^198\.18\.\d+\.\d+$/.test(ip)) throw new Error(`pod ${pod} has no address on the test network (got "${ip}")`);
  return ip;
}

export function podIp6(setup: PodmanSetup, pod: string): string {
  const ip = podmanOk(setup, ['inspect', infraContainer(setup, pod), '--format', '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}']).trim();
  if (!/^2001:db8:/.test(ip)) throw new Error(`pod ${pod} has no IPv6 address on the test network (got "${ip}")`);
  return ip;
}

/** A pid in the pod's network namespace (the infra container's), for nsenter. */
export function podNetnsPid(setup: PodmanSetup, pod: string): string {
  return podmanOk(setup, ['inspect', infraContainer(setup, pod), '--format', '{{.State.Pid}}']).trim();
}

/** The pod's nat and mangle tables as (ip6)iptables-save prints them, counters and dated comments removed. */
export function podIptables(setup: PodmanSetup, pod: string, save = 'iptables-save'): string {
  const pid = podNetnsPid(setup, pod);
  const tables = ['nat', 'mangle'].map((table) => runOk('nsenter', ['-t', pid, '-n', save, '-t', table]));
  return tables.join('').split('\n').filter((line) => !line.startsWith('#')).map((line) => line.replace(/\[\d+:\d+\]/, '')).join('\n');
}

/** The pod's nftables ruleset (`nft list ruleset`), counter values left out. */
export function podNftables(setup: PodmanSetup, pod: string): string {
  return runOk('nsenter', ['-t', podNetnsPid(setup, pod), '-n', 'nft', 'list', 'ruleset']).replace(/packets \d+ bytes \d+/g, '');
}

/** Everything capture may have put in the pod's packet filter: both iptables families and the nftables ruleset. */
export function podFilterState(setup: PodmanSetup, pod: string): string {
  return [podIptables(setup, pod), podIptables(setup, pod, 'ip6tables-save'), podNftables(setup, pod)].join('\n---\n');
}

export function containerNames(setup: PodmanSetup, pod: string): string[] {
  return podmanOk(setup, ['ps', '--all', '--filter', `pod=${pod}`, '--format', '{{.Names}}']).split('\n').filter(Boolean).sort();
}

/** Reads a field of /proc/1/status of a container (Uid, Gid, CapEff...). */
export function containerStatusField(setup: PodmanSetup, container: string, field: string): string {
  const status = podmanOk(setup, ['exec', container, 'cat', '/proc/1/status']);
  const line = status.split('\n').find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in /proc/1/status of ${container}`);
  return line.slice(field.length + 1).trim().split(/\s+/)[0] as string;
}
