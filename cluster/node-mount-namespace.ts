/**
 * A test node's own mount namespace, so the node is a machine of its own for the host paths Kubernetes
 * hard-codes: /etc/cni/net.d and /opt/cni/bin (the CNI DaemonSet's hostPaths, containerd's CNI dirs)
 * are the node's folders, /run/netns holds only its pods' network namespaces, and kubelet/containerd
 * mounts (pod volumes, container root filesystems) never appear on the host. The namespace is pinned by
 * a bind mount on a file in the node's folder; every node process enters it with nsenter --mount.
 * Propagation is slave: host mounts still reach the node, nothing mounted in the node leaks out.
 *
 * Masked sysctls: the kubelet rewrites global kernel settings it wants (kernel.panic=10,
 * kernel.panic_on_oops=1, vm.overcommit_memory=1) and has no option to leave them alone. On a shared
 * test machine that would change how the host itself panics, so where the host differs, the node sees
 * a file holding the kubelet's value bind-mounted over /proc/sys/...: the kubelet finds nothing to change.
 *
 * Removal: every process whose mount namespace is the node's is killed (containerd, shims; the pods'
 * containers have mount namespaces of their own and are killed through the node's cgroups), then the
 * pin is unmounted, which frees the namespace and every mount in it.
 */

import { mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runOk } from './run-command.ts';

export interface NodeMounts {
  /** host folder -> path the node sees it at */
  readonly binds: readonly { readonly source: string; readonly target: string }[];
  /** Paths that get an empty tmpfs of their own (created inside the node first if missing there). */
  readonly tmpfs: readonly string[];
  /** Global sysctls the node must see with these values (masked where the host differs). */
  readonly sysctls: Readonly<Record<string, string>>;
}

export function createNodeMountNamespace(nodeDir: string, mounts: NodeMounts): string {
  const pin = join(nodeDir, 'mnt.ns');
  runOk('mount', ['--bind', nodeDir, nodeDir]);
  runOk('mount', ['--make-private', nodeDir]);
  writeFileSync(pin, '');
  const masks = join(nodeDir, 'sysctl-masks');
  mkdirSync(masks, { recursive: true });
  const script: string[] = ['set -e'];
  // A tmpfs target missing on the host is made there first (an empty folder: /opt, /run/containerd).
  for (const path of mounts.tmpfs) script.push(`mkdir -p ${path}`, `mount -t tmpfs -o mode=0755,size=64m outrigger-node ${path}`);
  for (const { source, target } of mounts.binds) script.push(`mkdir -p ${target}`, `mount --bind ${source} ${target}`);
  for (const [name, value] of Object.entries(mounts.sysctls)) {
    const proc = `/proc/sys/${name.replaceAll('.', '/')}`;
    if (readFileSync(proc, 'utf8').trim() === value) continue;
    const file = join(masks, name);
    writeFileSync(file, `${value}\n`);
    script.push(`mount --bind ${file} ${proc}`);
  }
  runOk('unshare', [`--mount=${pin}`, '--propagation', 'slave', 'sh', '-c', script.join('\n')]);
  return pin;
}

/** The inode of a mount namespace, as /proc/PID/ns/mnt names it ("mnt:[INODE]"). */
function namespaceId(pin: string): string | undefined {
  try {
    return `mnt:[${statSync(pin).ino}]`;
  } catch {
    return undefined;
  }
}

export function processesInMountNamespace(pin: string): number[] {
  const id = namespaceId(pin);
  if (id === undefined) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/mnt`) === id) pids.push(Number(entry));
    } catch {
      // gone or not ours to read
    }
  }
  return pids;
}

/** Kills what still runs in the node (containers, shims), then frees the namespace and the folder's bind. */
export async function destroyNodeMountNamespace(nodeDir: string): Promise<void> {
  const pin = join(nodeDir, 'mnt.ns');
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = processesInMountNamespace(pin);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  run('umount', [pin]);
  run('umount', ['-l', nodeDir]);
}

/** The same, synchronously and without waiting (process exit): SIGKILL, then lazy unmounts. */
export function killMountNamespaceNow(nodeDir: string): void {
  const pin = join(nodeDir, 'mnt.ns');
  for (const pid of processesInMountNamespace(pin)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  run('umount', ['-l', pin]);
  run('umount', ['-l', nodeDir]);
}
