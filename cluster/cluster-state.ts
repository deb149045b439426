/**
 * What a running cluster left on disk (ROOT/ID/state.json): its namespace, addresses, processes
 * and owner. Any later start reads every state file and tears down clusters whose owner process is
 * gone (a test worker that crashed before its teardown), so nothing outlives its owner for long.
 * A cluster started by hand (`npm run cluster -- up`) has no owner and stays until `down`.
 */

import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClustersRoot } from './cluster-layout.ts';
import { deleteClusterNetwork } from './cluster-network.ts';
import { isRunning, processStartTicks, type RunningComponent, stopComponent } from './component-process.ts';
import { killCgroupRoot, processesInCgroupRoot, removeCgroupRoot, removeCgroupRootEventually } from './node-cgroups.ts';
import { destroyNodeMountNamespace, killMountNamespaceNow } from './node-mount-namespace.ts';

export interface ClusterState {
  readonly id: string;
  readonly dir: string;
  readonly netns: string;
  readonly hostIp: string;
  readonly clusterIp: string;
  readonly binDir: string;
  /** Unset for a cluster started by hand. */
  readonly owner?: { readonly pid: number; readonly startTicks: number };
  components: RunningComponent[];
  /** Nodes (cluster-node.ts): their folder (holding the mount namespace pin) and cgroup root. */
  nodes?: { readonly name: string; readonly dir: string; readonly cgroupRoot: string }[];
}

export function stateFile(dir: string): string {
  return join(dir, 'state.json');
}

export function writeState(state: ClusterState): void {
  const file = stateFile(state.dir);
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function readState(dir: string): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

export function ownerOfThisProcess(): { pid: number; startTicks: number } {
  const startTicks = processStartTicks(process.pid);
  if (startTicks === undefined) throw new Error('cannot read this process start time from /proc');
  return { pid: process.pid, startTicks };
}

/**
 * Stops every process of the cluster (last started first), then what still runs in each node
 * (containers and their shims), the nodes' mount namespaces and cgroups, the network namespace and
 * the folder.
 */
export async function tearDown(state: ClusterState, options: { keepDir?: boolean } = {}): Promise<void> {
  for (const component of [...state.components].reverse()) await stopComponent(component);
  for (const node of state.nodes ?? []) {
    await destroyNodeMountNamespace(node.dir);
    await killCgroupRoot(node.cgroupRoot);
    const left = await removeCgroupRootEventually(node.cgroupRoot);
    if (left.length > 0) console.error(`cluster ${state.id}: cgroups still in use after teardown: ${left.join(', ')}`);
  }
  deleteClusterNetwork(state.netns);
  if (!options.keepDir) rmSync(state.dir, { recursive: true, force: true });
}

/** Synchronous last resort for process exit: SIGKILL everything, delete the namespace. */
export function killNow(state: ClusterState): void {
  for (const component of state.components) {
    if (isRunning(component)) {
      try {
        process.kill(component.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const node of state.nodes ?? []) {
    killMountNamespaceNow(node.dir);
    for (const pid of processesInCgroupRoot(node.cgroupRoot)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    removeCgroupRoot(node.cgroupRoot);
  }
  deleteClusterNetwork(state.netns);
  rmSync(state.dir, { recursive: true, force: true });
}

/** Tears down every cluster whose owner process has ended. Returns the ids removed. */
export async function removeOrphanedClusters(): Promise<string[]> {
  if (!existsSync(ClustersRoot)) return [];
  const removed: string[] = [];
  for (const entry of readdirSync(ClustersRoot)) {
    const dir = join(ClustersRoot, entry);
    const state = readState(dir);
    if (!state) {
      // A folder without state (older than a minute: not a start in progress) is a start that
      // failed before writing it: nothing runs there.
      if (/^[0-9a-f]{6}$/.test(entry) && statSync(dir).mtimeMs < Date.now() - 60_000) {
        deleteClusterNetwork(`orc-${entry}`);
        rmSync(dir, { recursive: true, force: true });
        removed.push(entry);
      }
      continue;
    }
    if (!state.owner) continue;
    if (isRunning(state.owner)) continue;
    await tearDown(state);
    removed.push(state.id);
  }
  return removed;
}
