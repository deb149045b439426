/**
 * Starts test/helpers/probe-server.py inside a namespace (as a stand-in proxy or app) and makes
 * single, time-bounded connections with probe-client.py. Every started server is stopped by
 * stopAllProbes(), also when a test fails.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stageForOtherUsers } from '../../scripts/stage-for-other-users.js';
import type { Namespace } from './netns.js';

// Run as the proxy's and apps' uids: staged where those users can read them.
const serverScript = stageForOtherUsers(fileURLToPath(new URL('./probe-server.py', import.meta.url)));
const clientScript = stageForOtherUsers(fileURLToPath(new URL('./probe-client.py', import.meta.url)));
const running = new Set<ChildProcess>();

export interface ProbeReply {
  readonly listener?: string;
  readonly local?: string;
  readonly peer?: string;
  readonly original_dst?: string | null;
  readonly uid?: number;
  readonly error?: string;
}

export interface ProbeOptions {
  readonly name: string;
  readonly tcp?: readonly string[];
  readonly udp?: readonly string[];
  readonly uid?: number;
  readonly transparent?: boolean;
  /** How long the server may run (default 120 s). */
  readonly maxSeconds?: number;
}

export async function startProbe(ns: Namespace, options: ProbeOptions): Promise<{ stop(): void }> {
  const asUser = options.uid === undefined ? [] : ['setpriv', `--reuid=${options.uid}`, `--regid=${options.uid}`, '--clear-groups'];
  const args = ['netns', 'exec', ns.name, ...asUser, '/usr/bin/python3', serverScript, '--name', options.name, '--max-seconds', String(options.maxSeconds ?? 120),
    ...(options.tcp ?? []).flatMap((a) => ['--tcp', a]), ...(options.udp ?? []).flatMap((a) => ['--udp', a]),
    ...(options.transparent ? ['--transparent'] : [])];
  const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const stop = () => {
    child.kill('SIGTERM');
    running.delete(child);
  };
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`probe ${options.name} did not start in 5 s: ${stderr}`)), 5000);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`probe ${options.name} exited (${code}): ${stderr}`));
    });
  }).catch((error: unknown) => {
    stop();
    throw error;
  });
  return { stop };
}

/** One connection (or datagram) from inside `ns` as uid/gid, with a time limit (default 3 s). */
export async function probe(ns: Namespace, kind: 'tcp' | 'udp', host: string, port: number, as: { uid?: number; gid?: number } = {}, limitSeconds = 3): Promise<ProbeReply> {
  const result = await ns.run('/usr/bin/python3', [clientScript, kind, host, String(port), String(limitSeconds)], { ...as, timeoutMs: 10_000 });
  try {
    return JSON.parse(result.stdout.trim()) as ProbeReply;
  } catch {
    return { error: `no reply (exit ${result.exitCode}): ${result.stderr.trim()}` };
  }
}

export function stopAllProbes(): void {
  for (const child of running) child.kill('SIGTERM');
  running.clear();
}

/** `host:port` with IPv6 hosts in brackets, as probe-server.py prints addresses. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
