/**
 * Finds a pod's network namespace from the node's /proc (the DaemonSet mounts it at /host/proc
 * and runs with hostPID). The kubelet puts every container of a pod, the sandbox ("pause")
 * included, into the pod's cgroup, whose path names the pod UID:
 *   cgroupfs driver: `/kubepods/besteffort/pod<uid>/<container id>`
 *   systemd driver:  `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid with _>.slice/cri-containerd-<id>.scope`
 * Any process whose /proc/PID/cgroup names the UID therefore lives in the pod's network
 * namespace; processes still in the node's own namespace (host-network pods, a process caught
 * before its namespace was joined) are skipped by comparing the ns/net link with the node's.
 */

import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Whether a /proc/PID/cgroup text places the process in the pod with this UID. */
export function cgroupNamesPod(cgroupText: string, podUid: string): boolean {
  const dashed = podUid.toLowerCase();
  const underscored = dashed.replaceAll('-', '_');
  return cgroupText.split('\n').some((line) => {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    return path.split('/').some((part) => {
      const match = /pod([0-9a-f_-]{32,36})(?:\.slice)?$/.exec(part.toLowerCase());
      return match !== null && (match[1] === dashed || match[1] === underscored);
    });
  });
}

export interface PodNetns {
  readonly pid: number;
  /** `<host proc>/<pid>/ns/net`, for nsenter --net. */
  readonly netnsPath: string;
  /** The pod's resolv.conf as seen through that process's root. */
  readonly resolvConfPath: string;
}

/** The first process of the pod that is in a network namespace of its own, or undefined. */
export async function findPodNetns(hostProc: string, podUid: string): Promise<PodNetns | undefined> {
  // The node's namespace: PID 1's, or (where that link is not readable) our own, since the
  // DaemonSet runs with hostNetwork.
  const hostNet = await readlink(join(hostProc, '1', 'ns', 'net')).catch(() => readlink('/proc/self/ns/net').catch(() => undefined));
  const pids = (await readdir(hostProc)).filter((name) => /^\d+$/.test(name)).map(Number).sort((a, b) => a - b);
  for (const pid of pids) {
    const cgroup = await readFile(join(hostProc, String(pid), 'cgroup'), 'utf8').catch(() => '');
    if (!cgroupNamesPod(cgroup, podUid)) continue;
    const netnsPath = join(hostProc, String(pid), 'ns', 'net');
    const net = await readlink(netnsPath).catch(() => undefined);
    if (net === undefined || net === hostNet) continue;
    return { pid, netnsPath, resolvConfPath: join(hostProc, String(pid), 'root', 'etc', 'resolv.conf') };
  }
  return undefined;
}
