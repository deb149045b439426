/**
 * Reads a live pod's rules and addresses through the command runner (apply/command-runner.ts;
 * the real one enters the namespace with nsenter, tests can drive a fake): both families of
 * iptables as the tools print them (`iptables-nft-save`; `iptables-legacy-save` where the legacy
 * backend has tables; plain `iptables-save` where neither variant exists), `nft list ruleset` (its
 * `ip`/`ip6` tables that iptables-nft manages are left to iptables-nft-save, which prints their
 * rules in full), the interfaces' addresses (`ip -j addr`) and, for an outbound connection, the
 * route the kernel picks (`ip -j route get`). A tool that is missing is skipped and said so; a
 * tool that fails is a ReadFailed error (exit 1) with its message.
 */

import type { CommandRunner } from '../../apply/command-runner.js';
import { legacyTablesInUse } from '../../apply/select-backend.js';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import type { Connection, InterfaceAddresses, PodFacts } from '../../explain/connection.js';
import { parseDump } from '../../explain/parse-dump.js';
import type { PathTable } from '../../explain/path-model.js';

export interface LiveRules {
  readonly tables: readonly PathTable[];
  readonly inputs: readonly string[];
  readonly notes: readonly string[];
  readonly interfaces: readonly InterfaceAddresses[];
}

const IptablesTableNames = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

async function run(runner: CommandRunner, where: string, file: string, args: readonly string[]): Promise<string> {
  const result = await runner.run(file, args);
  if (result.exitCode !== 0) {
    throw new OutriggerError(ErrorCodes.ReadFailed, `${[file, ...args].join(' ')} in ${where} failed (exit ${result.exitCode}): ${result.stderr.trim().split('\n').slice(0, 3).join('; ')}`);
  }
  return result.stdout;
}

interface AddrInfo {
  readonly family?: string;
  readonly local?: string;
  readonly scope?: string;
}

/** `ip -j addr show` → each interface's addresses in the kernel's order, link-local IPv6 left out. */
export function interfacesFromIpJson(text: string): InterfaceAddresses[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.flatMap((link: { ifname?: unknown; addr_info?: unknown }) => {
    if (typeof link.ifname !== 'string' || !Array.isArray(link.addr_info)) return [];
    const addresses = (link.addr_info as AddrInfo[]).filter((a) => typeof a.local === 'string' && a.scope !== 'link').map((a) => a.local as string);
    return [{ name: link.ifname, addresses }];
  });
}

export async function readLiveRules(runner: CommandRunner, where: string): Promise<LiveRules> {
  // Entering the namespace at all is the first thing that can fail (not root, no such namespace).
  const interfaces = interfacesFromIpJson(await run(runner, where, 'ip', ['-j', 'addr', 'show']));
  const tables: PathTable[] = [];
  const inputs: string[] = [];
  const notes: string[] = [];
  const nftFamiliesRead = new Set<string>();
  const legacy = await legacyTablesInUse(runner, false);
  for (const family of [4, 6] as const) {
    const base = family === 4 ? 'iptables' : 'ip6tables';
    const legacyInstalled = await runner.has(`${base}-legacy-save`);
    const variants: string[] = [];
    if (await runner.has(`${base}-nft-save`)) variants.push(`${base}-nft-save`);
    if (legacy && legacyInstalled) variants.push(`${base}-legacy-save`);
    if (variants.length === 0 && !legacyInstalled && (await runner.has(`${base}-save`))) variants.push(`${base}-save`);
    // Legacy installed but without tables in this namespace holds no rules: nothing to say.
    if (variants.length === 0 && !legacyInstalled) notes.push(`no ${base}-save here: IPv${family} iptables rules were not read`);
    for (const tool of variants) {
      const dump = parseDump(await run(runner, where, tool, []), `${tool} output`);
      tables.push(...dump.tables.map((t) => (t.families.length === 0 ? { ...t, families: [family] } : t)));
      inputs.push(...dump.inputs.map((i) => `${i} (${where})`));
      notes.push(...dump.notes);
      if (tool.includes('-nft-')) nftFamiliesRead.add(family === 4 ? 'ip' : 'ip6');
    }
  }
  if (await runner.has('nft')) {
    const dump = parseDump(await run(runner, where, 'nft', ['list', 'ruleset']), 'nft list ruleset output');
    const own = dump.tables.filter((t) => !(t.nftFamily !== undefined && nftFamiliesRead.has(t.nftFamily) && IptablesTableNames.has(t.name)));
    tables.push(...own);
    if (own.length > 0) inputs.push(`nft list ruleset: ${own.map((t) => `${t.nftFamily} ${t.name}`).join(', ')} (${where})`);
    notes.push(...dump.notes);
  } else {
    notes.push('no nft here: native nftables rules were not read');
  }
  return { tables, inputs, notes, interfaces };
}

/** The kernel's route for an outbound connection (`ip -j route get DST [from SRC] uid UID`). */
export async function readRoute(runner: CommandRunner, where: string, connection: Connection): Promise<PodFacts['route']> {
  const args = ['-j', 'route', 'get', connection.destination, ...(connection.source ? ['from', connection.source] : []), 'uid', String(connection.uid ?? 1000)];
  const result = await runner.run('ip', args);
  if (result.exitCode !== 0) {
    if (/unreachable|no route/i.test(result.stderr)) return { interface: '', local: false, unreachable: result.stderr.trim() };
    throw new OutriggerError(ErrorCodes.ReadFailed, `ip ${args.join(' ')} in ${where} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    return undefined;
  }
  const route = Array.isArray(parsed) ? (parsed[0] as { type?: string; dev?: string; prefsrc?: string } | undefined) : undefined;
  if (!route?.dev) return undefined;
  return { interface: route.dev, ...(route.prefsrc ? { source: route.prefsrc } : {}), local: route.type === 'local' };
}
