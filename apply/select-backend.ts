/**
 * Chooses the iptables binaries for one address family, as Istio does: the legacy backend if it
 * already holds rules in this network namespace (the node or another tool uses it), otherwise
 * nft, otherwise whatever plain `iptables` is. A flag can force a choice.
 */

import { readFile } from 'node:fs/promises';
import type { IpFamily } from '../capture/capture-config.js';
import { ErrorCodes, OutriggerError } from '../common/errors.js';
import type { CommandRunner } from './command-runner.js';

export type BackendChoice = 'auto' | 'legacy' | 'nft' | 'plain';

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

/**
 * Legacy tables appear in /proc/net/ip{,6}_tables_names only once something used them in this
 * namespace; reading that file avoids spawning iptables-legacy-save in the common (nft) case.
 * Through a netns runner the file belongs to another namespace, so ask the save binary instead.
 */
async function legacyHoldsRules(family: IpFamily, runner: CommandRunner, inOwnNamespace: boolean): Promise<boolean> {
  const names = family === 4 ? '/proc/net/ip_tables_names' : '/proc/net/ip6_tables_names';
  if (inOwnNamespace) {
    const tables = await readFile(names, 'utf8').catch(() => '');
    if (tables.trim() === '') return false;
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
