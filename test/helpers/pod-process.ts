/**
 * A stand-in for a pod's sandbox process as the kubelet and containerd lay it out on a node: a
 * long-sleeping process inside the pod's network namespace, placed in a cgroup whose path names
 * the pod UID the way the kubelet's systemd cgroup driver does
 * (`kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid with _>.slice/cri-containerd-<id>.scope`),
 * under a randomly named test root in the cgroup v2 hierarchy. stop() kills the process and
 * removes the cgroups, also when a test fails (stopAllPodProcesses).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Namespace } from './netns.js';

const running = new Set<() => Promise<void>>();

function cgroup2Root(): string {
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) if (existsSync(join(root, 'cgroup.procs')) && existsSync(join(root, 'cgroup.controllers'))) return root;
  for (const root of ['/sys/fs/cgroup/unified']) if (existsSync(join(root, 'cgroup.procs'))) return root;
  throw new Error('the apply-mode repair test needs a writable cgroup v2 hierarchy (/sys/fs/cgroup or /sys/fs/cgroup/unified) to place a process in a pod cgroup');
}

export interface PodProcess {
  readonly pid: number;
  readonly cgroupPath: string;
  stop(): Promise<void>;
}

export async function startPodProcess(ns: Namespace, podUid: string): Promise<PodProcess> {
  const root = join(cgroup2Root(), `outrigger-test-${randomBytes(4).toString('hex')}`);
  const qos = 'kubepods-besteffort';
  const dirs = [
    root,
    join(root, 'kubepods.slice'),
    join(root, 'kubepods.slice', `${qos}.slice`),
    join(root, 'kubepods.slice', `${qos}.slice`, `${qos}-pod${podUid.replaceAll('-', '_')}.slice`),
    join(root, 'kubepods.slice', `${qos}.slice`, `${qos}-pod${podUid.replaceAll('-', '_')}.slice`, `cri-containerd-${randomBytes(32).toString('hex')}.scope`),
  ];
  for (const dir of dirs) mkdirSync(dir);
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns.name, 'sleep', '300'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    running.delete(stop);
    child.kill('SIGKILL');
    await exited;
    // A cgroup can be removed once its last process is gone; the kernel may lag a moment.
    for (let attempt = 0; ; attempt++) {
      try {
        for (const dir of [...dirs].reverse()) if (existsSync(dir)) rmdirSync(dir);
        return;
      } catch (error) {
        if (attempt >= 40) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  running.add(stop);
  const pid = child.pid;
  if (pid === undefined) throw new Error('cannot start the pod process');
  const hostNet = readlinkSync('/proc/self/ns/net');
  const deadline = Date.now() + 5000;
  // `ip netns exec` joins the namespace, then execs sleep under the same PID.
  while (readlinkSync(`/proc/${pid}/ns/net`) === hostNet) {
    if (Date.now() > deadline) throw new Error(`process ${pid} never entered namespace ${ns.name}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  writeFileSync(join(dirs.at(-1)!, 'cgroup.procs'), String(pid));
  return { pid, cgroupPath: dirs.at(-1)!, stop };
}

export async function stopAllPodProcesses(): Promise<void> {
  await Promise.all([...running].map((stop) => stop()));
}
