/**
 * Applies one family's plan with a single `iptables-restore --noflush`: read the live state,
 * compute the transition (nothing to do if the plan is already there), dry-run it with --test on
 * legacy, apply it, and on failure put the saved tables back so the previous rules stay intact.
 * The put-back is needed on every backend: iptables-restore commits at each COMMIT line (legacy
 * and nft alike, as of iptables 1.8), so a failure in the nat table comes after the mangle table
 * was already changed.
 */

import type { FamilyPlan } from '../capture/rule.js';
import { planTransition } from '../capture/plan-transition.js';
import { readSavedState, type SavedState } from '../capture/saved-rules.js';
import { ErrorCodes, OutriggerError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { CommandRunner } from './command-runner.js';
import type { IptablesBinaries } from './select-backend.js';

export interface FamilyApplyResult {
  readonly family: 4 | 6;
  readonly backend: IptablesBinaries['backend'];
  readonly changed: boolean;
  /** Tables the restore touched (empty when nothing changed). */
  readonly tables: readonly string[];
  /** Puts back the state saved before this apply (used if a later step fails). */
  readonly revert: () => Promise<void>;
  /** What the namespace held before (where an earlier run's TPROXY marks are found). */
  readonly previous: SavedState;
}

export interface FamilyApplyOptions {
  /**
   * When the family's rules cannot even be read (its save fails), report "nothing changed"
   * instead of failing: for removing an earlier run's IPv6 rules from a pod whose kernel now
   * refuses ip6tables, where there can be none of ours.
   */
  readonly skipIfUnreadable?: boolean;
}

export async function readLiveState(bins: IptablesBinaries, runner: CommandRunner): Promise<SavedState> {
  const saved = await runner.run(bins.save, []);
  if (saved.exitCode !== 0) {
    throw new OutriggerError(ErrorCodes.ApplyFailed, `${bins.save} failed (exit ${saved.exitCode}): ${saved.stderr.trim()}`);
  }
  return readSavedState(saved.stdout);
}

/** Restore input that returns the given tables to their saved content (absent tables: emptied). */
function backupInput(state: SavedState, tables: readonly string[]): string {
  return tables
    .map((table) => {
      const saved = state.tables.get(table as never);
      return saved ? saved.lines.join('\n') : `*${table}\nCOMMIT`;
    })
    .join('\n')
    .concat('\n');
}

/** Applies one family's plan. `log` (optional) gets a debug line per step; results are returned as data. */
export async function applyFamilyRules(
  plan: FamilyPlan, bins: IptablesBinaries, runner: CommandRunner, log?: Logger, options: FamilyApplyOptions = {},
): Promise<FamilyApplyResult> {
  const family = plan.family;
  let state: SavedState;
  try {
    state = await readLiveState(bins, runner);
  } catch (error) {
    if (!options.skipIfUnreadable) throw error;
    log?.debug({ family, backend: bins.backend, err: error }, 'rules unreadable; nothing of ours can be there');
    return { family, backend: bins.backend, changed: false, tables: [], revert: async () => {}, previous: readSavedState('') };
  }
  const transition = planTransition(plan, state);
  if (!transition) {
    log?.debug({ family, backend: bins.backend }, 'capture rules already in place');
    return { family, backend: bins.backend, changed: false, tables: [], revert: async () => {}, previous: state };
  }

  const lockArgs = bins.needsLock ? ['--wait'] : [];
  const restore = (args: string[], input: string) => runner.run(bins.restore, args, { input });

  if (bins.testFirst) {
    const test = await restore(['--noflush', '--test', ...lockArgs], transition.restoreInput);
    if (test.exitCode !== 0) {
      throw new OutriggerError(ErrorCodes.ApplyFailed, `${bins.restore} --test refused the rules for IPv${family}; nothing was changed: ${test.stderr.trim()}`);
    }
  }

  const revert = async (): Promise<void> => {
    const result = await restore([...lockArgs], backupInput(state, transition.tables));
    if (result.exitCode !== 0) {
      throw new OutriggerError(ErrorCodes.RollbackFailed, `restoring the previous IPv${family} rules failed: ${result.stderr.trim()}`);
    }
  };

  const applied = await restore(['--noflush', ...lockArgs], transition.restoreInput);
  if (applied.exitCode !== 0) {
    const reason = applied.stderr.trim();
    await revert();
    throw new OutriggerError(
      ErrorCodes.ApplyFailed,
      `${bins.restore} failed for IPv${family}; the previous rules are intact: ${reason}`,
    );
  }
  log?.debug({ family, backend: bins.backend, tables: transition.tables }, 'capture rules applied');
  return { family, backend: bins.backend, changed: true, tables: transition.tables, revert, previous: state };
}
