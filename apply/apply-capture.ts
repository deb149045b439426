/**
 * The one place capture is applied, for `outrigger init` and the CNI plugin alike: plan, pick
 * each family's backend, set up routing, then apply each family with one iptables-restore. If
 * any step fails, what this run changed is put back, so a pod is never left half-captured.
 * What an earlier run added and this plan does not want goes: its IPv6 rules (and `::6`) when
 * this plan has no IPv6, and TPROXY's policy routing when this plan is REDIRECT or uses another
 * mark or table (found by the marks in the saved mangle rules).
 */

import type { CaptureConfig, HostFacts, IpFamily } from '../capture/capture-config.js';
import { type CapturePlan, planCapture } from '../capture/plan-capture.js';
import { emptyPlan } from '../capture/plan-transition.js';
import { ownTproxyMarks } from '../capture/saved-rules.js';
import type { Logger } from '../common/log.js';
import { applyFamilyRules, type FamilyApplyResult } from './apply-family-rules.js';
import type { CommandRunner } from './command-runner.js';
import { ensurePassthroughAddress, ensurePolicyRouting, findOwnRouting, findPassthroughAddress, removeRouting, type RoutingChange } from './policy-routing.js';
import { type BackendChoice, type IptablesBinaries, selectBackend } from './select-backend.js';

export interface ApplyInput {
  readonly config: CaptureConfig;
  readonly facts: HostFacts;
  readonly runner: CommandRunner;
  readonly backend?: BackendChoice;
  /** False when the runner enters another network namespace. Default true. */
  readonly inOwnNamespace?: boolean;
  /** Optional debug trace; outcomes are returned as data for the caller to log. */
  readonly log?: Logger;
  /**
   * Look for an earlier run's IPv6 rules when this plan has no IPv6 (default true). The CNI
   * plugin's ADD turns it off: the spec forbids a second ADD for the same container without a DEL
   * between, so its namespace never holds an earlier run, and most pods are IPv4-only.
   */
  readonly removeEarlierIpv6?: boolean;
}

export interface FamilyOutcome {
  readonly family: IpFamily;
  readonly backend: string;
  readonly changed: boolean;
  readonly tables: readonly string[];
}

export interface ApplyReport {
  readonly plan: CapturePlan;
  readonly families: readonly FamilyOutcome[];
  readonly routingAdded: readonly RoutingChange[];
  /** An earlier run's routing this plan does not want, removed. */
  readonly routingRemoved: readonly RoutingChange[];
}

/** Whether any ip6tables is installed: where none is, no IPv6 rules of ours can exist. */
async function hasIp6tables(runner: CommandRunner): Promise<boolean> {
  return (await runner.has('ip6tables-save')) || (await runner.has('ip6tables-nft-save'));
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

/** Routing an earlier run added (found by its marks) that this plan does not want; and `::6` once IPv6 is no longer captured. */
async function unwantedRouting(plan: CapturePlan, previous: readonly FamilyApplyResult[], runner: CommandRunner, inOwnNamespace: boolean): Promise<RoutingChange[]> {
  const wanted = plan.policyRouting;
  const isWanted = (change: RoutingChange): boolean =>
    change.kind !== 'address' && wanted !== null && wanted.families.includes(change.family) && change.table === wanted.table
    && (change.kind === 'route' || change.mark === wanted.mark);
  const unwanted: RoutingChange[] = [];
  for (const result of previous) {
    const marks = ownTproxyMarks(result.previous);
    if (marks.length === 0) continue;
    unwanted.push(...(await findOwnRouting(marks, [], [result.family], runner)).filter((change) => !isWanted(change)));
  }
  // Without IPv6 in the plan, a family-6 result is the removal of an earlier run's IPv6 rules.
  const removedIpv6 = !plan.ipv6 && previous.some((r) => r.family === 6 && r.changed);
  if (!plan.ipv6PassthroughAddress && removedIpv6) unwanted.push(...(await findPassthroughAddress(runner, inOwnNamespace)));
  return unwanted;
}

export async function applyCapture(input: ApplyInput): Promise<ApplyReport> {
  const { config, facts, runner, log } = input;
  const plan = planCapture(config, facts);
  const inOwnNamespace = input.inOwnNamespace ?? true;
  const familyPlans = plan.ipv6 ? [plan.ipv4, plan.ipv6] : [plan.ipv4];
  // Choose every backend before changing anything, so a missing binary fails cleanly.
  const backends = await Promise.all(
    familyPlans.map((familyPlan) => selectBackend(familyPlan.family, input.backend ?? 'auto', runner, inOwnNamespace)),
  );
  // Without IPv6 in this plan, an earlier run's IPv6 rules are removed (its empty plan).
  const staleIpv6 = plan.ipv6 || input.removeEarlierIpv6 === false ? null : await ipv6Leftovers(input.backend ?? 'auto', runner, inOwnNamespace);

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
  let routingRemoved: RoutingChange[];
  try {
    routingRemoved = await unwantedRouting(plan, applied, runner, inOwnNamespace);
    await removeRouting(routingRemoved, runner);
  } catch (error) {
    await undo();
    throw error;
  }
  return {
    plan,
    // An unplanned family (IPv6 leftovers) is reported only when something of ours was removed.
    families: applied
      .filter((r) => r.changed || familyPlans.some((p) => p.family === r.family))
      .map(({ family, backend, changed, tables }) => ({ family, backend, changed, tables })),
    routingAdded,
    routingRemoved,
  };
}

export interface CleanupInput {
  readonly config: CaptureConfig;
  readonly runner: CommandRunner;
  readonly backend?: BackendChoice;
  readonly inOwnNamespace?: boolean;
  readonly log?: Logger;
}

export interface CleanupReport {
  readonly families: readonly FamilyOutcome[];
  readonly routingRemoved: readonly RoutingChange[];
}

/** Removes every rule, chain, policy-routing rule and address outrigger added, and nothing else. */
export async function cleanupCapture(input: CleanupInput): Promise<CleanupReport> {
  const { config, runner, log } = input;
  const families: FamilyOutcome[] = [];
  const present: IpFamily[] = [];
  const marks = new Set([config.inboundTproxyMark]);
  for (const family of [4, 6] as const) {
    // IPv6 is cleaned wherever ip6tables exists, whatever the pod's addresses are now.
    if (family === 6 && !(await hasIp6tables(runner))) continue;
    const bins = await selectBackend(family, input.backend ?? 'auto', runner, input.inOwnNamespace ?? true);
    const result = await applyFamilyRules(emptyPlan(family), bins, runner, log);
    families.push({ family, backend: result.backend, changed: result.changed, tables: result.tables });
    present.push(family);
    for (const mark of ownTproxyMarks(result.previous)) marks.add(mark);
  }
  // The configured mark and table, and whatever marks the removed rules used (an earlier run's
  // -t/-r may differ from this cleanup's).
  const routing = await findOwnRouting([...marks], [config.inboundTproxyRouteTable], present, runner);
  if (present.includes(6)) routing.push(...(await findPassthroughAddress(runner, input.inOwnNamespace ?? true)));
  await removeRouting(routing, runner);
  log?.debug({ families, routingRemoved: routing.length }, 'capture cleanup done');
  return { families, routingRemoved: routing };
}
