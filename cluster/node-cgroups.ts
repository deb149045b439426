/**
 * A test node's cgroup root (the kubelet's cgroupRoot, cgroup v1 with the cgroupfs driver, as this
 * machine kind has): /NAME in every mounted v1 hierarchy, so two nodes on one machine never share
 * kubepods and removal takes exactly the node's cgroups. cpuset needs its cpus and mems filled before
 * anything can join, so they are copied from the parent. Removal is bottom-up rmdir once the node's
 * processes are gone (a cgroup with a process in it stays, and is named in the returned list).
 */

import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const Root = '/sys/fs/cgroup';

function hierarchies(): string[] {
  if (!existsSync(Root)) return [];
  // Every mounted hierarchy, the hybrid layout's cgroup2 `unified` too (runc makes the containers' there).
  return readdirSync(Root).filter((name) => statSync(join(Root, name)).isDirectory() && existsSync(join(Root, name, 'cgroup.procs')));
}

export function createCgroupRoot(name: string): void {
  if (existsSync(join(Root, 'cgroup.controllers'))) throw new Error('this host runs cgroup v2 only; the test node is written for cgroup v1 (cgroupfs driver)');
  for (const hierarchy of hierarchies()) {
    const dir = join(Root, hierarchy, name);
    mkdirSync(dir, { recursive: true });
    if (hierarchy.split(',').includes('cpuset')) {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(dir, file), readFileSync(join(Root, hierarchy, file), 'utf8'));
    }
  }
}

function removeTree(dir: string, left: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeTree(join(dir, entry.name), left);
  }
  try {
    rmdirSync(dir);
  } catch {
    left.push(dir);
  }
}

/** Removes /NAME from every hierarchy; returns the cgroups that could not be removed. */
export function removeCgroupRoot(name: string): string[] {
  const left: string[] = [];
  for (const hierarchy of hierarchies()) {
    const dir = join(Root, hierarchy, name);
    if (existsSync(dir)) removeTree(dir, left);
  }
  return left;
}

/** Every process in the node's cgroups (its pods' containers: each in its own mount namespace). */
export function processesInCgroupRoot(name: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line.trim() !== '') pids.add(Number(line));
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
    } catch {
      // removed meanwhile
    }
  };
  for (const hierarchy of hierarchies()) walk(join(Root, hierarchy, name));
  return [...pids];
}

/** SIGKILLs every process in the node's cgroups until none is left (bounded). */
export async function killCgroupRoot(name: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = processesInCgroupRoot(name);
    if (pids.length === 0 || Date.now() > deadline) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** removeCgroupRoot, retried for a few seconds: killed processes leave their cgroups only once reaped. */
export async function removeCgroupRootEventually(name: string, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = removeCgroupRoot(name);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
