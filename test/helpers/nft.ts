/**
 * nftables in a test namespace: load a script (optionally where the owner groups `java` and
 * `ftp` exist: a private mount namespace with a bind-mounted copy of /etc/group that adds them,
 * the host's file untouched), and read `nft list ruleset` back as data, per table and chain, with
 * counters' values and (unless asked to keep them) rule comments left out.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Namespace, RunResult } from './netns.js';

export interface ListedChain {
  /** `type nat hook output priority -100; policy accept;` for a base chain. */
  readonly header: string | null;
  readonly rules: string[];
}

/** `inet istio-proxy-nat` → chain name → chain. */
export type ListedRuleset = Map<string, Map<string, ListedChain>>;

/** Test-only group ids for the names Istio's goldens use (as the conformance data's README did). */
export const TestGroups = { java: 60001, ftp: 60002 } as const;

/** Runs `nft args` in `ns`, with `java`/`ftp` known when `withTestGroups` (they must not exist on the host). */
export async function nft(ns: Namespace, args: readonly string[], options: { input?: string; withTestGroups?: boolean } = {}): Promise<RunResult> {
  if (!options.withTestGroups) return ns.run('nft', args, options.input !== undefined ? { input: options.input } : {});
  const dir = mkdtempSync(join(tmpdir(), 'or-groups-'));
  try {
    const groups = readFileSync('/etc/group', 'utf8').trimEnd();
    for (const name of Object.keys(TestGroups)) {
      if (groups.split('\n').some((line) => line.startsWith(`${name}:`))) throw new Error(`group ${name} exists on this host; the test needs it absent`);
    }
    writeFileSync(join(dir, 'group'), `${groups}\n${Object.entries(TestGroups).map(([n, id]) => `${n}:x:${id}:`).join('\n')}\n`);
    const script = `mount --bind ${join(dir, 'group')} /etc/group && exec ip netns exec ${ns.name} nft "$@"`;
    try {
      const stdout = execFileSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', ...args], {
        input: options.input ?? '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'],
      });
      return { exitCode: 0, stdout, stderr: '' };
    } catch (error) {
      const e = error as { status?: number; stdout?: string; stderr?: string };
      return { exitCode: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads a script with `nft -f -`; throws naming the script on failure. */
export async function loadNft(ns: Namespace, script: string, options: { withTestGroups?: boolean } = {}): Promise<void> {
  const result = await nft(ns, ['-f', '-'], { input: script, ...options });
  if (result.exitCode !== 0) throw new Error(`nft -f refused the script (exit ${result.exitCode}): ${result.stderr}\n${script}`);
}

export async function listRuleset(ns: Namespace): Promise<string> {
  const result = await ns.run('nft', ['list', 'ruleset']);
  if (result.exitCode !== 0) throw new Error(`nft list ruleset failed: ${result.stderr}`);
  return result.stdout;
}

/** A listing as data. Counter values become `counter`; comments go unless `keepComments`. */
export function parseRuleset(text: string, options: { keepComments?: boolean } = {}): ListedRuleset {
  const tables: ListedRuleset = new Map();
  let table: Map<string, ListedChain> | null = null;
  let chain: { header: string | null; rules: string[] } | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const tableStart = /^table (\S+) (\S+) \{$/.exec(line);
    if (tableStart) {
      table = new Map();
      tables.set(`${tableStart[1]} ${tableStart[2]}`, table);
      continue;
    }
    const chainStart = /^chain (\S+) \{$/.exec(line);
    if (chainStart && table) {
      chain = { header: null, rules: [] };
      table.set(chainStart[1] ?? '', chain);
      continue;
    }
    if (line === '}') {
      if (chain) chain = null;
      else table = null;
      continue;
    }
    if (!chain || line === '') continue;
    if (/^type \S+ hook /.test(line)) {
      chain.header = line;
      continue;
    }
    let rule = line.replace(/counter packets \d+ bytes \d+/g, 'counter');
    if (!options.keepComments) rule = rule.replace(/ comment "(?:[^"\\]|\\.)*"$/, '');
    chain.rules.push(rule);
  }
  return tables;
}

/** Only the given tables of a listing (e.g. ours), as a plain object for toEqual. */
export function tablesAsObject(ruleset: ListedRuleset, names?: readonly string[]): Record<string, Record<string, ListedChain>> {
  const out: Record<string, Record<string, ListedChain>> = {};
  for (const [name, chains] of ruleset) {
    if (names && !names.includes(name)) continue;
    out[name] = Object.fromEntries(chains);
  }
  return out;
}
