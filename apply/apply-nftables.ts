/**
 * The nftables applier (`--native-nftables`): the whole capture, both families and every table,
 * is one `nft -f` transaction, so a refused script changes nothing at all. It first tries to
 * create our tables (`create table`: refused, changing nothing, where one exists). Beside it, one
 * `nft list ruleset` (skipped where no earlier run can exist: CNI ADD) tells, when a table of ours
 * was there, whether this plan is already in place (then nothing is written, counters included)
 * or what to replace, and in any case what an earlier run used (TPROXY marks, IPv6, iptables
 * chains of ours). The routing steps (TPROXY's ip rule and route, `::6`) run beside them too; if
 * either side fails, the other is put back: our tables as they were listed, the routing this run
 * added removed.
 */

import { ErrorCodes, OutriggerError } from '../common/errors.js';
import { EmptyNftState, isNftApplied, type NftState, readNftState, renderNftRestore } from '../capture/nft-state.js';
import type { CapturePlan } from '../capture/plan-capture.js';
import { nftLayout, renderNftApply, renderNftCleanup } from '../capture/render-nft.js';
import type { Logger } from '../common/log.js';
import type { AppliedCapture, ApplyInput } from './capture-backend.js';
import type { CommandRunner } from './command-runner.js';
import { ensurePassthroughAddress, ensurePolicyRouting, removeRouting, type RoutingChange } from './policy-routing.js';
import { legacyTablesInUse } from './select-backend.js';

export const NftBinary = 'nft';

export async function requireNft(runner: CommandRunner): Promise<void> {
  if (!(await runner.has(NftBinary))) {
    throw new OutriggerError(ErrorCodes.MissingDependency, 'nft was not found on PATH; native nftables capture needs it: install nftables (nft 1.0.1 or later)');
  }
}

export async function readNftLiveState(runner: CommandRunner): Promise<NftState> {
  const listed = await runner.run(NftBinary, ['list', 'ruleset']);
  if (listed.exitCode !== 0) {
    throw new OutriggerError(ErrorCodes.ApplyFailed, `nft list ruleset failed (exit ${listed.exitCode}); nothing was changed: ${listed.stderr.trim()}`);
  }
  return readNftState(listed.stdout);
}

/** Runs one script as one transaction. */
async function runScript(runner: CommandRunner, script: string, failure: (stderr: string) => OutriggerError): Promise<void> {
  const result = await runner.run(NftBinary, ['-f', '-'], { input: script });
  if (result.exitCode !== 0) throw failure(result.stderr.trim());
}

function restoreFailed(stderr: string): OutriggerError {
  return new OutriggerError(ErrorCodes.RollbackFailed, `putting the previous nftables tables back failed: ${stderr}`);
}

/** Puts our tables back as `state` listed them. */
export function restoreNftTables(runner: CommandRunner, state: NftState): Promise<void> {
  return runScript(runner, renderNftRestore(state), restoreFailed);
}

export async function applyNftables(input: ApplyInput, plan: CapturePlan): Promise<AppliedCapture> {
  const { runner, log } = input;
  const inOwnNamespace = input.inOwnNamespace ?? true;
  await requireNft(runner);
  const layout = nftLayout(plan.rules, plan.families);
  const lookBack = input.mayHoldEarlierRun !== false;
  const refused = (stderr: string) => new OutriggerError(ErrorCodes.ApplyFailed, `nft -f refused the capture rules; nothing was changed: ${stderr}`);
  // Where an earlier run may exist, its listing is read while the tables are created (a fresh pod,
  // the common case, pays no extra round trip): `create table` refuses, changing nothing, if a
  // table of ours exists, and only then does the listing decide (already in place, or replace it).
  // nft is the long pole and each spawn holds this thread for the fork: the create goes first.
  const creating = runner.run(NftBinary, ['-f', '-'], { input: renderNftApply(layout, []) });
  const listing = lookBack ? readNftLiveState(runner) : Promise.resolve(EmptyNftState);
  void listing.catch(() => {}); // awaited below
  let previous: NftState = EmptyNftState;

  const rules = (async (): Promise<boolean> => {
    const created = await creating;
    if (created.exitCode === 0) {
      // None of our tables existed: only what the listing says of iptables counts (it may have been
      // taken after our create).
      const listed = await listing.catch((error: unknown) => {
        log?.debug({ err: error }, 'nft list ruleset failed; an earlier iptables run cannot be looked for');
        return EmptyNftState;
      });
      previous = { ...EmptyNftState, iptablesChains: listed.iptablesChains };
      log?.debug({ backend: 'nftables', tables: layout.tables.map((t) => t.name) }, 'capture rules applied');
      return true;
    }
    if (!/File exists/.test(created.stderr)) throw refused(created.stderr.trim());
    previous = await listing;
    if (lookBack && isNftApplied(layout, previous)) {
      log?.debug({ backend: 'nftables' }, 'capture rules already in place');
      return false;
    }
    // Replace ours: remove the tables the listing showed; if another appeared meanwhile, whatever is there.
    // (Without a listing, CNI ADD's: all three, whatever is there.)
    const replaced = await runner.run(NftBinary, ['-f', '-'], { input: renderNftApply(layout, lookBack ? [...previous.tables.keys()] : undefined) });
    if (replaced.exitCode !== 0) {
      if (!/File exists/.test(replaced.stderr)) throw refused(replaced.stderr.trim());
      await runScript(runner, renderNftApply(layout), refused);
    }
    log?.debug({ backend: 'nftables', tables: layout.tables.map((t) => t.name) }, 'capture rules replaced');
    return true;
  })();
  const routingAdded: RoutingChange[] = [];
  const routing = (async () => {
    if (plan.ipv6PassthroughAddress) routingAdded.push(...(await ensurePassthroughAddress(runner, inOwnNamespace)));
    if (plan.policyRouting) routingAdded.push(...(await ensurePolicyRouting(plan.policyRouting, runner)));
  })();
  const [routed, written] = await Promise.allSettled([routing, rules]);
  const changed = written.status === 'fulfilled' && written.value;
  const undo = async (): Promise<void> => {
    if (changed) await restoreNftTables(runner, previous);
    await removeRouting(routingAdded, runner);
  };
  const failure = [routed, written].find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) {
    await listing.catch(() => {});
    await undo();
    throw failure.reason;
  }
  const tables = changed ? layout.tables.map((t) => t.name) : [];
  return {
    families: plan.families.map((family) => ({ family, backend: 'nftables', changed, tables })),
    routingAdded,
    // One inet table served both families: its marks may have routing in either.
    earlierMarks: previous.marks.length > 0 ? [{ family: 4, marks: previous.marks }, { family: 6, marks: previous.marks }] : [],
    removedIpv6: previous.capturesIpv6 && !plan.families.includes(6),
    otherBackendSeen: lookBack && (previous.iptablesChains || (await legacyTablesInUse(runner, inOwnNamespace))),
    undo,
  };
}

export interface RemovedTables {
  /** Our tables that were there and are gone now. */
  readonly tables: readonly string[];
  readonly previous: NftState;
  readonly revert: () => Promise<void>;
}

/** Our nftables tables as listed now; none where no nft is installed. */
export async function listNftIfInstalled(runner: CommandRunner): Promise<NftState> {
  return (await runner.has(NftBinary)) ? readNftLiveState(runner) : EmptyNftState;
}

/**
 * Removes our nftables tables (one transaction) and nothing else; where no nft is installed there
 * are none. `listed` is their listing if the caller already started it.
 */
export async function removeNftTables(runner: CommandRunner, log?: Logger, listed?: Promise<NftState>): Promise<RemovedTables> {
  const none: RemovedTables = { tables: [], previous: EmptyNftState, revert: async () => {} };
  const previous = await (listed ?? listNftIfInstalled(runner));
  if (previous.tables.size === 0) return none;
  await runScript(runner, renderNftCleanup(), (stderr) =>
    new OutriggerError(ErrorCodes.ApplyFailed, `nft -f refused removing our tables; nothing was changed: ${stderr}`));
  log?.debug({ tables: [...previous.tables.keys()] }, 'nftables tables removed');
  return { tables: [...previous.tables.keys()], previous, revert: () => restoreNftTables(runner, previous) };
}
