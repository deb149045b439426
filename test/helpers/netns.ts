/**
 * Real network namespaces for integration tests: a "pod" and a "peer" joined by a veth pair,
 * with 198.18.X.0/24 and 2001:db8:X::/64 addresses and no route anywhere else. Every namespace
 * made here is recorded and removed by destroy()/destroyAllNamespaces(), also when a test fails.
 * Tests that cannot run (not root, tools missing) fail with a clear message; they never skip.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

const created = new Set<string>();

/** Fails (never skips) unless running as root with the tools the tests use, plus `extraTools`. */
export function requireRealKernel(extraTools: readonly string[] = []): void {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) {
    throw new Error(`integration tests need root to create network namespaces and apply iptables rules (running as uid ${uid}); run them as root, e.g. via .ci/run`);
  }
  for (const tool of ['ip', 'iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-legacy-restore', '/usr/bin/python3', 'setpriv', 'nsenter', ...extraTools]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`integration tests need ${tool} on PATH; run scripts/setup-host.sh first`);
    }
  }
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface RunOptions {
  readonly uid?: number;
  readonly gid?: number;
  readonly input?: string;
  readonly timeoutMs?: number;
  readonly env?: Record<string, string>;
  /**
   * Files to hide from the command (a host without them): each is covered by an empty,
   * non-executable file in a private mount namespace; the host's files are untouched.
   */
  readonly hide?: readonly string[];
}

let emptyFile: string | null = null;
function placeholder(): string {
  if (!emptyFile) {
    emptyFile = join(mkdtempSync(join(tmpdir(), 'or-hide-')), 'absent');
    writeFileSync(emptyFile, '', { mode: 0o644 });
  }
  return emptyFile;
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class Namespace {
  constructor(readonly name: string) {}

  get path(): string {
    return `/var/run/netns/${this.name}`;
  }

  /** Runs a command inside the namespace, optionally as another uid/gid (setpriv). */
  async run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const asUser = options.uid === undefined ? [] : ['setpriv', `--reuid=${options.uid}`, `--regid=${options.gid ?? options.uid}`, '--clear-groups'];
    const inNamespace = ['ip', 'netns', 'exec', this.name, ...asUser, file, ...args];
    const hide = options.hide ?? [];
    const binds = hide.map((path) => `mount --bind ${placeholder()} ${path}`).join(' && ');
    const [command, ...commandArgs] = hide.length > 0
      ? ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `${binds} && exec "$@"`, 'sh', ...inNamespace]
      : inNamespace;
    const result = await execa(command ?? 'ip', commandArgs, {
      reject: false,
      timeout: options.timeoutMs ?? 30_000,
      ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
      ...(options.env ? { env: options.env } : {}),
    });
    return { exitCode: result.exitCode ?? 128, stdout: String(result.stdout), stderr: String(result.stderr) };
  }

  /**
   * `iptables-save` text of the given family (nft backend unless told otherwise), without
   * comments and without tables that hold nothing: a built-in table the kernel instantiated
   * once (default ACCEPT policies, no rules, no chains of its own) is not state anyone added.
   */
  async save(family: 4 | 6, backend: 'nft' | 'legacy' = 'nft'): Promise<string> {
    const result = await this.run(`${family === 4 ? 'iptables' : 'ip6tables'}-${backend}-save`, []);
    if (result.exitCode !== 0) throw new Error(`save failed: ${result.stderr}`);
    return meaningfulTables(result.stdout);
  }

  destroy(): void {
    if (!created.has(this.name)) return;
    try {
      ip(['netns', 'del', this.name]);
    } catch {
      // already gone
    }
    created.delete(this.name);
  }
}

export function meaningfulTables(save: string): string {
  const blocks = save.split('\n').filter((l) => !l.startsWith('#')).join('\n').split(/(?=^\*)/m);
  return blocks
    .filter((block) => block.split('\n').some((l) => l.startsWith('-A') || (/^:\S+ - /.test(l)) || /^:\S+ (DROP|REJECT)/.test(l)))
    .map((block) => `${block.trimEnd()}\n`)
    .join('');
}

export function createNamespace(prefix = 'or'): Namespace {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  ip(['netns', 'add', name]);
  created.add(name);
  ip(['-n', name, 'link', 'set', 'lo', 'up']);
  return new Namespace(name);
}

export interface PodPair {
  readonly pod: Namespace;
  readonly peer: Namespace;
  readonly podIfname: string;
  readonly podV4: string;
  readonly peerV4: string;
  readonly podV6: string;
  readonly peerV6: string;
  destroy(): void;
}

/** A pod and a peer joined by a veth pair (pod side `eth0`), IPv4 and IPv6. */
export function createPodPair(): PodPair {
  const pod = createNamespace('or-pod');
  const peer = createNamespace('or-peer');
  const subnet = 1 + (randomBytes(1)[0] ?? 0) % 250;
  const peerIf = `orv${randomBytes(3).toString('hex')}`;
  const pair = {
    pod,
    peer,
    podIfname: 'eth0',
    podV4: `198.18.${subnet}.2`,
    peerV4: `198.18.${subnet}.1`,
    podV6: `2001:db8:${subnet.toString(16)}::2`,
    peerV6: `2001:db8:${subnet.toString(16)}::1`,
    destroy() {
      pod.destroy();
      peer.destroy();
    },
  };
  try {
    ip(['link', 'add', 'eth0', 'netns', pod.name, 'type', 'veth', 'peer', 'name', peerIf, 'netns', peer.name]);
    ip(['-n', pod.name, 'addr', 'add', `${pair.podV4}/24`, 'dev', 'eth0']);
    ip(['-n', peer.name, 'addr', 'add', `${pair.peerV4}/24`, 'dev', peerIf]);
    ip(['-n', pod.name, '-6', 'addr', 'add', `${pair.podV6}/64`, 'dev', 'eth0', 'nodad']);
    ip(['-n', peer.name, '-6', 'addr', 'add', `${pair.peerV6}/64`, 'dev', peerIf, 'nodad']);
    ip(['-n', pod.name, 'link', 'set', 'eth0', 'up']);
    ip(['-n', peer.name, 'link', 'set', peerIf, 'up']);
  } catch (error) {
    pair.destroy();
    throw error;
  }
  return pair;
}

export function destroyAllNamespaces(): void {
  for (const name of [...created]) new Namespace(name).destroy();
}
