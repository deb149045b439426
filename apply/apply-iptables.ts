/**
 * The iptables applier: pick each family's backend, set up routing, then apply each family with
 * one iptables-restore. If any step fails, what this run changed is put back, so a pod is never
 * left half-captured. What an earlier run added and this plan does not want goes: its IPv6 rules
 * (and `::6`) when this plan has no IPv6, and TPROXY's policy routing when this plan is REDIRECT
 * or uses another mark or table (found by the marks in the saved mangle rules).
 */

import type { IpFamily } from '../capture/capture-config.js';
import type { CapturePlan } from '../capture/plan-capture.js';
import { emptyPlan } from '../capture/plan-transition.js';
import { ownTproxyMarks } from '../capture/saved-rules.js';
import type { Logger } from '../common/log.js';
import { applyFamilyRules, type FamilyApplyResult } from './apply-family-rules.js';
import type { AppliedCapture, ApplyInput, FamilyOutcome } from './capture-backend.js';
import type { CommandRunner } from './command-runner.js';
import { ensurePassthroughAddress, ensurePolicyRouting, removeRouting, type RoutingChange } from './policy-routing.js';
import { type BackendChoice, type IptablesBinaries, selectBackend } from './select-backend.js';

/** Whether any ip6tables is installed: where none is, no IPv6 rules of ours can exist. */
export async function hasIp6tables(runner: CommandRunner): Promise<boolean> {
  return (await runner.has('ip6tables-save')) || (await runner.has('ip6tables-nft-save'));
}

/** Whether any iptables is installed: where none is, no iptables rules of ours can exist. */
export async function hasIptables(runner: CommandRunner): Promise<boolean> {
  for (const save of ['iptables-nft-save', 'iptables-legacy-save', 'iptables-save']) if (await runner.has(save)) return true;
  return false;
}

/** ip6tables' binaries where they exist, for removing an earlier run's IPv6 rules; else null. */
async function ipv6Leftovers(choice: BackendChoice, runner: CommandRunner, inOwnNamespace: boolean): Promise<IptablesBinaries | null> {
  if (!(await hasIp6tables(runner))) return null;
  try {
    return await selectBackend(6, choice, runner, inOwnNamespace);
  } catch {
    return null; // no usable ip6tables: no IPv6 rules of ours either
  }
}

/** The marks each family's earlier rules used (where an earlier TPROXY run's routing is found). */
function earlierMarks(results: readonly FamilyApplyResult[]): { family: IpFamily; marks: number[] }[] {
  return results.map((r) => ({ family: r.family, marks: ownTproxyMarks(r.previous) }));
}

export async function applyIptables(input: ApplyInput, plan: CapturePlan): Promise<AppliedCapture> {
  const { runner, log } = input;
  const inOwnNamespace = input.inOwnNamespace ?? true;
  const familyPlans = plan.ipv6 ? [plan.ipv4, plan.ipv6] : [plan.ipv4];
  // Choose every backend before changing anything, so a missing binary fails cleanly.
  const backends = await Promise.all(
    familyPlans.map((familyPlan) => selectBackend(familyPlan.family, input.backend ?? 'auto', runner, inOwnNamespace)),
  );
  // Without IPv6 in this plan, an earlier run's IPv6 rules are removed (its empty plan).
  const staleIpv6 = plan.ipv6 || input.mayHoldEarlierRun === false ? null : await ipv6Leftovers(input.backend ?? 'auto', runner, inOwnNamespace);

  // The families and the routing are independent: apply them concurrently (this runs on every
  // pod start), then undo whatever succeeded if anything failed.
  const routingAdded: RoutingChange[] = [];
  const routing = (async () => {
    if (plan.ipv6PassthroughAddress) routingAdded.push(...(await ensurePassthroughAddress(runner, inOwnNamespace)));
    if (plan.policyRouting) routingAdded.push(...(await ensurePolicyRouting(plan.policyRouting, runner)));
  })();
  const outcomes = await Promise.allSettled([
    routing,
    ...familyPlans.map((familyPlan, i) => applyFamilyRules(familyPlan, backends[i]!, runner, log)),
    ...(staleIpv6 ? [applyFamilyRules(emptyPlan(6), staleIpv6, runner, log, { skipIfUnreadable: true })] : []),
  ]);
  const applied = outcomes.slice(1).flatMap((o) => (o.status === 'fulfilled' ? [o.value as FamilyApplyResult] : []));
  const undo = async (): Promise<void> => {
    for (const done of applied) if (done.changed) await done.revert();
    await removeRouting(routingAdded, runner);
  };
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) {
    await undo();
    throw failure.reason;
  }
  // Without IPv6 in the plan, a family-6 result is the removal of an earlier run's IPv6 rules.
  const removedIpv6 = !plan.ipv6 && applied.some((r) => r.family === 6 && r.changed);
  const families: FamilyOutcome[] = applied
    // An unplanned family (IPv6 leftovers) is reported only when something of ours was removed.
    .filter((r) => r.changed || familyPlans.some((p) => p.family === r.family))
    .map(({ family, backend, changed, tables }) => ({ family, backend, changed, tables }));
  return { families, routingAdded, earlierMarks: earlierMarks(applied), removedIpv6, undo };
}

export interface RemovedRules {
  readonly families: readonly FamilyApplyResult[];
  /** Puts the removed rules back. */
  readonly revert: () => Promise<void>;
}

/**
 * Removes our iptables rules and chains of both families (IPv6 where ip6tables exists), with
 * nothing else: no routing. Where no iptables is installed there is nothing to remove.
 */
export async function removeIptablesRules(runner: CommandRunner, choice: BackendChoice, inOwnNamespace: boolean, log?: Logger): Promise<RemovedRules> {
  const done: FamilyApplyResult[] = [];
  const revert = async (): Promise<void> => {
    for (const result of done) if (result.changed) await result.revert();
  };
  if (!(await hasIptables(runner))) return { families: [], revert };
  try {
    for (const family of [4, 6] as const) {
      if (family === 6 && !(await hasIp6tables(runner))) continue;
      const bins = await selectBackend(family, choice, runner, inOwnNamespace);
      done.push(await applyFamilyRules(emptyPlan(family), bins, runner, log));
    }
  } catch (error) {
    await revert();
    throw error;
  }
  return { families: done, revert };
}


