/**
 * Invokes CNI plugins exactly as a container runtime does through libcni, for tests: each
 * plugin of a conflist is run with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS
 * and CNI_PATH in its environment and its network config on stdin, built from the list entry
 * plus the list's `name` and `cniVersion`, `runtimeConfig` for the capabilities it declares, and
 * `prevResult` (ADD: the previous plugin's output; CHECK and DEL: the list's cached result).
 * ADD runs the plugins in order, DEL in reverse. The plugins run inside the given "node"
 * namespace with `ip netns exec`, so nothing they do reaches the host's own namespace.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Namespace } from './netns.js';

export interface Conflist {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly Record<string, unknown>[];
}

export interface RuntimeCall {
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  /** CNI_ARGS, e.g. `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web`. */
  readonly args: string;
  /** Values for capabilities (`portMappings`, `io.kubernetes.cri.pod-annotations`). */
  readonly capabilityArgs: Readonly<Record<string, unknown>>;
  readonly binDirs: readonly string[];
}

export interface PluginOutcome {
  readonly type: string;
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON, when it is JSON. */
  readonly json: Record<string, unknown> | null;
}

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';

function findPlugin(type: string, binDirs: readonly string[]): string {
  for (const dir of binDirs) if (existsSync(join(dir, type))) return join(dir, type);
  throw new Error(`CNI plugin ${type} not found in ${binDirs.join(':')}`);
}

/** The network config libcni gives one plugin of a list. */
export function pluginConfig(list: Conflist, plugin: Record<string, unknown>, call: RuntimeCall, prevResult: unknown): Record<string, unknown> {
  const { capabilities, ...rest } = plugin;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, enabled] of Object.entries((capabilities ?? {}) as Record<string, boolean>)) {
    if (enabled && call.capabilityArgs[cap] !== undefined) runtimeConfig[cap] = call.capabilityArgs[cap];
  }
  return {
    ...rest,
    name: list.name,
    cniVersion: list.cniVersion,
    ...(Object.keys(runtimeConfig).length > 0 ? { runtimeConfig } : {}),
    ...(prevResult !== undefined ? { prevResult } : {}),
  };
}

/** Runs one plugin binary with raw stdin and the CNI environment (overrides replace or drop variables). */
export async function execPlugin(
  node: Namespace,
  type: string,
  command: Command,
  stdin: string,
  call: RuntimeCall,
  overrides: Readonly<Record<string, string | undefined>> = {},
  options: {
    readonly timeoutMs?: number;
    /** Start reading stdout only after this long, as a busy runtime may: the answer waits in the pipe (64 KiB). */
    readonly readDelayMs?: number;
    /** Node files the plugin must not find (a node without them; see Namespace.run). */
    readonly hide?: readonly string[];
  } = {},
): Promise<PluginOutcome> {
  const env: Record<string, string> = {};
  const base: Record<string, string | undefined> = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName,
    CNI_ARGS: call.args,
    CNI_PATH: call.binDirs.join(':'),
    ...overrides,
  };
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  const argv = ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), findPlugin(type, call.binDirs)];
  const run = { input: stdin, timeoutMs: options.timeoutMs ?? 60_000, hide: options.hide ?? [] };
  const result = options.readDelayMs
    ? await node.run('bash', ['-c', `set -o pipefail; env "$@" | { sleep ${options.readDelayMs / 1000}; cat; }`, 'slow-reader', ...argv], run)
    : await node.run('env', argv, run);
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { type, exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, json };
}

export async function invokePlugin(node: Namespace, list: Conflist, plugin: Record<string, unknown>, command: Command, call: RuntimeCall, prevResult: unknown): Promise<PluginOutcome> {
  return execPlugin(node, String(plugin.type), command, JSON.stringify(pluginConfig(list, plugin, call, prevResult)), call);
}

/** ADD through the list; stops at the first failure (as libcni does). */
export async function addNetworkList(node: Namespace, list: Conflist, call: RuntimeCall): Promise<{ result: Record<string, unknown> | null; outcomes: PluginOutcome[] }> {
  const outcomes: PluginOutcome[] = [];
  let prev: Record<string, unknown> | undefined;
  for (const plugin of list.plugins) {
    const outcome = await invokePlugin(node, list, plugin, 'ADD', call, prev);
    outcomes.push(outcome);
    if (outcome.exitCode !== 0 || !outcome.json) return { result: null, outcomes };
    prev = outcome.json;
  }
  return { result: prev ?? null, outcomes };
}

/** CHECK through the list with the cached result; stops at the first failure. */
export async function checkNetworkList(node: Namespace, list: Conflist, call: RuntimeCall, cached: unknown): Promise<PluginOutcome[]> {
  const outcomes: PluginOutcome[] = [];
  for (const plugin of list.plugins) {
    const outcome = await invokePlugin(node, list, plugin, 'CHECK', call, cached);
    outcomes.push(outcome);
    if (outcome.exitCode !== 0) break;
  }
  return outcomes;
}

/** DEL through the list in reverse with the cached result; stops at the first failure. */
export async function delNetworkList(node: Namespace, list: Conflist, call: RuntimeCall, cached: unknown): Promise<PluginOutcome[]> {
  const outcomes: PluginOutcome[] = [];
  for (const plugin of [...list.plugins].reverse()) {
    const outcome = await invokePlugin(node, list, plugin, 'DEL', call, cached);
    outcomes.push(outcome);
    if (outcome.exitCode !== 0) break;
  }
  return outcomes;
}
