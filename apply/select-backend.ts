/**
 * Chooses the iptables binaries for one address family, as Istio does: the legacy backend if it
 * already holds rules in this network namespace (the node or another tool uses it), otherwise
 * nft, otherwise whatever plain `iptables` is. A flag can force a choice.
 */

import type { IpFamily } from '../capture/capture-config.js';
import { ErrorCodes, OutriggerError } from '../common/errors.js';
import type { CommandRunner } from './command-runner.js';
import { readProcFile } from './read-proc-file.js';

/** How the backend is chosen: `auto` as Istio does, or forced (init's --iptables-backend, the CNI config's iptablesBackend). */
export const BackendChoices = ['auto', 'legacy', 'nft', 'plain'] as const;
export type BackendChoice = (typeof BackendChoices)[number];

export interface IptablesBinaries {
  readonly backend: 'legacy' | 'nft' | 'plain';
  readonly save: string;
  readonly restore: string;
  /** The plain binary for single commands. */
  readonly iptables: string;
  /** Whether restore should be given --wait (backends that take the xtables lock). */
  readonly needsLock: boolean;
  /**
   * Whether to dry-run a restore with --test before the real one. Worth a spawn on legacy, whose
   * --test loads every match and target against the kernel's tables; nft's --test only parses.
   * (Neither backend is atomic across tables: both commit at each COMMIT line, so the applier
   * always keeps the saved tables to put back.)
   */
  readonly testFirst: boolean;
}

function binaries(family: IpFamily, backend: 'legacy' | 'nft' | 'plain'): IptablesBinaries {
  const base = family === 4 ? 'iptables' : 'ip6tables';
  const suffix = backend === 'plain' ? '' : `-${backend}`;
  return {
    backend,
    save: `${base}${suffix}-save`,
    restore: `${base}${suffix}-restore`,
    iptables: `${base}${suffix}`,
    needsLock: backend !== 'nft',
    testFirst: backend !== 'nft',
  };
}

const TableNames: Record<IpFamily, string> = { 4: '/proc/net/ip_tables_names', 6: '/proc/net/ip6_tables_names' };

/**
 * Both families' legacy table names in another namespace with one spawn (`grep -H '' FILE...`
 * prints `FILE:table` per line; a missing file only means no legacy module). The families are
 * chosen concurrently, so the two lookups share one answer; it is forgotten once it settles, so a
 * long-lived runner never sees a stale one.
 */
const pendingNames = new WeakMap<CommandRunner, Promise<string | null>>();
function foreignTableNames(runner: CommandRunner): Promise<string | null> {
  let pending = pendingNames.get(runner);
  if (!pending) {
    pending = runner.run('grep', ['-H', '', TableNames[4], TableNames[6]]).then(
      (result) => (result.exitCode <= 2 ? result.stdout : null),
      () => null, // no grep: fall back to asking the save binary
    );
    pendingNames.set(runner, pending);
    void pending.finally(() => pendingNames.delete(runner));
  }
  return pending;
}

/**
 * Legacy tables appear in /proc/net/ip{,6}_tables_names only once something used them in this
 * namespace; reading that file avoids spawning iptables-legacy-save in the common (nft) case.
 * Through a netns runner the file belongs to another namespace: it is read with one spawn for
 * both families, and the save binary is asked only if this family has legacy tables.
 */
async function legacyHoldsRules(family: IpFamily, runner: CommandRunner, inOwnNamespace: boolean): Promise<boolean> {
  const names = TableNames[family];
  if (inOwnNamespace) {
    const tables = readProcFile(names);
    if (tables.trim() === '') return false;
  } else {
    const listed = await foreignTableNames(runner);
    if (listed !== null && !listed.split('\n').some((line) => line.startsWith(`${names}:`) && line.length > names.length + 1)) return false;
  }
  const legacy = binaries(family, 'legacy');
  if (!(await runner.has(legacy.save))) return false;
  const saved = await runner.run(legacy.save, []);
  return saved.exitCode === 0 && saved.stdout.split('\n').some((line) => line.startsWith('-A '));
}

export async function selectBackend(family: IpFamily, choice: BackendChoice, runner: CommandRunner, inOwnNamespace: boolean): Promise<IptablesBinaries> {
  let chosen: IptablesBinaries;
  if (choice !== 'auto') chosen = binaries(family, choice);
  else if (await legacyHoldsRules(family, runner, inOwnNamespace)) chosen = binaries(family, 'legacy');
  else if (await runner.has(binaries(family, 'nft').restore)) chosen = binaries(family, 'nft');
  else chosen = binaries(family, 'plain');
  if (!(await runner.has(chosen.restore)) || !(await runner.has(chosen.save))) {
    throw new OutriggerError(
      ErrorCodes.MissingDependency,
      `${chosen.restore} (${chosen.backend} backend, IPv${family}) was not found on PATH; install iptables`,
    );
  }
  return chosen;
}

/**
 * Whether the legacy backend has tables in this namespace at all (either family): the cheap first
 * test for "could legacy iptables hold rules of an earlier run?" (a file read in our own
 * namespace, one spawn through a netns runner).
 */
export async function legacyTablesInUse(runner: CommandRunner, inOwnNamespace: boolean): Promise<boolean> {
  if (inOwnNamespace) return [4, 6].some((family) => readProcFile(TableNames[family as IpFamily]).trim() !== '');
  const listed = await foreignTableNames(runner);
  if (listed === null) return true; // cannot tell: let the save binary answer
  return Object.values(TableNames).some((names) => listed.split('\n').some((line) => line.startsWith(`${names}:`) && line.length > names.length + 1));
}
