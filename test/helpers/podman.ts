/**
 * Podman as the end-to-end test's pod runtime: a private CNI network (a bridge with no gateway and
 * no NAT on a 198.18.x.0/24 subnet, in a configuration directory of the test's own, so the host's
 * networks, firewall and /etc/cni are untouched), `podman kube play` of Pod YAML, pod addresses and
 * network-namespace pids, exec into containers, and cleanup that tolerates what is already gone.
 * Every podman call is bounded in time and names the command when it fails.
 */

import { spawnSync } from 'node:child_process';
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

/** A CNI network of the test's own: its config directory, name, bridge and subnet. */
export interface PodNetwork {
  readonly confDir: string;
  readonly name: string;
  readonly bridge: string;
  readonly subnet: string;
}

/**
 * Writes a conflist podman's CNI backend reads through `--cni-config-dir`: bridge (isGateway false,
 * ipMasq false: nothing reaches or leaves through the host) with host-local IPAM, then `chained`
 * plugins (CNI mode) in order.
 */
export function createPodNetwork(dir: string, id: string, thirdOctet: number, chained: readonly object[] = []): PodNetwork {
  const confDir = join(dir, 'net.d');
  mkdirSync(confDir, { recursive: true });
  const network: PodNetwork = { confDir, name: `or-e2e-${id}`, bridge: `ore2e${id}`.slice(0, 15), subnet: `198.18.${thirdOctet}.0/24` };
  const conflist = {
    cniVersion: '0.4.0',
    name: network.name,
    plugins: [
      { type: 'bridge', bridge: network.bridge, isGateway: false, ipMasq: false, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: network.subnet }]] } },
      ...chained,
    ],
  };
  writeFileSync(join(confDir, `${network.name}.conflist`), JSON.stringify(conflist, null, 2));
  return network;
}

/** Removes the bridge and host-local's address records the network left on the host. */
export function removePodNetwork(network: PodNetwork): void {
  run('ip', ['link', 'del', network.bridge]);
  rmSync(`/var/lib/cni/networks/${network.name}`, { recursive: true, force: true });
}

export function podman(network: PodNetwork | undefined, args: readonly string[], timeoutMs = 120_000, env?: NodeJS.ProcessEnv): CommandResult {
  return run('podman', [...(network ? ['--cni-config-dir', network.confDir] : []), ...args], { timeoutMs, ...(env ? { env } : {}) });
}

export function podmanOk(network: PodNetwork | undefined, args: readonly string[], timeoutMs = 120_000, env?: NodeJS.ProcessEnv): string {
  const result = podman(network, args, timeoutMs, env);
  if (result.status !== 0) throw new Error(`podman ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** `podman kube play` of one YAML file on the network; returns podman's report. */
export function playKube(network: PodNetwork, yamlPath: string, env?: NodeJS.ProcessEnv): string {
  return podmanOk(network, ['kube', 'play', '--network', network.name, yamlPath], 180_000, env);
}

/** Force-removes pods by name (missing pods are fine): stop at once, no grace period. */
export function removePods(network: PodNetwork | undefined, names: readonly string[]): void {
  for (const name of names) podman(network, ['pod', 'rm', '--force', '--time', '0', name]);
}

function infraContainer(pod: string): string {
  return podmanOk(undefined, ['pod', 'inspect', pod, '--format', '{{.InfraContainerID}}']).trim();
}

export function podIp(pod: string): string {
  const ip = podmanOk(undefined, ['inspect', infraContainer(pod), '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}']).trim();
  if (!/^198\.18\.\d+\.\d+$/.test(ip)) throw new Error(`pod ${pod} has no address on the test network (got "${ip}")`);
  return ip;
}

/** A pid in the pod's network namespace (the infra container's), for nsenter. */
export function podNetnsPid(pod: string): string {
  return podmanOk(undefined, ['inspect', infraContainer(pod), '--format', '{{.State.Pid}}']).trim();
}

/** The pod's nat and mangle tables as iptables-save prints them, counters and comments-with-dates removed. */
export function podIptables(pod: string): string {
  const pid = podNetnsPid(pod);
  const tables = ['nat', 'mangle'].map((table) => runOk('nsenter', ['-t', pid, '-n', 'iptables-save', '-t', table]));
  return tables.join('').split('\n').filter((line) => !line.startsWith('#')).map((line) => line.replace(/\[\d+:\d+\]/, '')).join('\n');
}

export function containerNames(pod: string): string[] {
  return podmanOk(undefined, ['ps', '--all', '--filter', `pod=${pod}`, '--format', '{{.Names}}']).split('\n').filter(Boolean).sort();
}

/** Reads a field of /proc/1/status of a container (Uid, Gid, CapEff...). */
export function containerStatusField(container: string, field: string): string {
  const status = podmanOk(undefined, ['exec', container, 'cat', '/proc/1/status']);
  const line = status.split('\n').find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in /proc/1/status of ${container}`);
  return line.slice(field.length + 1).trim().split(/\s+/)[0] as string;
}
