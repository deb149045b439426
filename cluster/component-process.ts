/**
 * One cluster component as a plain process inside the cluster's network namespace (nsenter --net;
 * a node's components also enter the node's mount namespace, shared by the kubelet and containerd),
 * its output in LOGDIR/NAME.log, its pid recorded in the cluster's state so any later run can stop
 * it. Detached into its own process group, so a developer's `npm run cluster -- up` can return
 * while the cluster keeps running. stop() is SIGTERM, then SIGKILL after a grace period.
 */

import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ComponentSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Run in the host's network namespace instead (rare: tools the host must reach directly). */
  readonly hostNetwork?: boolean;
  /** Also enter this mount namespace (a node's: its own /etc/cni/net.d, /opt/cni/bin, /run/netns). */
  readonly mountNs?: string;
}

export interface RunningComponent {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** The process's start time (clock ticks since boot), so a reused pid is never killed. */
  readonly startTicks: number;
}

export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

export function isRunning(component: Pick<RunningComponent, 'pid' | 'startTicks'>): boolean {
  const ticks = processStartTicks(component.pid);
  if (ticks === undefined || ticks !== component.startTicks) return false;
  try {
    const state = readFileSync(`/proc/${component.pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(state);
  } catch {
    return false;
  }
}

export function startComponent(spec: ComponentSpec, netnsPath: string, logDir: string): RunningComponent {
  const logFile = join(logDir, `${spec.name}.log`);
  const fd = openSync(logFile, 'a', 0o600);
  const namespaces = [...(spec.hostNetwork ? [] : [`--net=${netnsPath}`]), ...(spec.mountNs ? [`--mount=${spec.mountNs}`] : [])];
  const [file, args] = namespaces.length === 0 ? [spec.command, spec.args] : ['nsenter', [...namespaces, '--', spec.command, ...spec.args]];
  const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env: spec.env ?? process.env });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`${spec.name} did not start (${spec.command})`);
  const startTicks = processStartTicks(child.pid);
  if (startTicks === undefined) throw new Error(`${spec.name} exited at once; see ${logFile}`);
  return { name: spec.name, pid: child.pid, logFile, startTicks };
}

/** SIGTERM, wait up to graceMs, then SIGKILL; returns once the process is gone (bounded). */
export async function stopComponent(component: RunningComponent, graceMs = 10_000): Promise<void> {
  if (!isRunning(component)) return;
  try {
    process.kill(component.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isRunning(component) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  if (isRunning(component)) {
    try {
      process.kill(component.pid, 'SIGKILL');
    } catch {
      return;
    }
    const killDeadline = Date.now() + 5_000;
    while (isRunning(component) && Date.now() < killDeadline) await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The last lines of a component's log, for error messages. */
export function logTail(logFile: string, lines = 30): string {
  try {
    return readFileSync(logFile, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}
