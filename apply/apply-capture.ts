/**
 * The one place capture is applied, for `outrigger init` and the CNI plugin alike: plan, pick
 * each family's backend, set up routing, then apply each family with one iptables-restore. If
 * any step fails, what this run changed is put back, so a pod is never left half-captured.
 */

import type { CaptureConfig, HostFacts, IpFamily } from '../capture/capture-config.js';
import { type CapturePlan, planCapture } from '../capture/plan-capture.js';
import { emptyPlan } from '../capture/plan-transition.js';
import type { Logger } from '../common/log.js';
import { applyFamilyRules, type FamilyApplyResult } from './apply-family-rules.js';
import type { CommandRunner } from './command-runner.js';
import { ensurePassthroughAddress, ensurePolicyRouting, findOwnRouting, removeRouting, type RoutingChange } from './policy-routing.js';
import { type BackendChoice, selectBackend } from './select-backend.js';

export interface ApplyInput {
  readonly config: CaptureConfig;
  readonly facts: HostFacts;
  readonly runner: CommandRunner;
  readonly backend?: BackendChoice;
  /** False when the runner enters another network namespace. Default true. */
  readonly inOwnNamespace?: boolean;
  /** Optional debug trace; outcomes are returned as data for the caller to log. */
  readonly log?: Logger;
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
}

export async function applyCapture(input: ApplyInput): Promise<ApplyReport> {
  const { config, facts, runner, log } = input;
  const plan = planCapture(config, facts);
  const familyPlans = plan.ipv6 ? [plan.ipv4, plan.ipv6] : [plan.ipv4];
  // Choose every backend before changing anything, so a missing binary fails cleanly.
  const backends = await Promise.all(
    familyPlans.map((familyPlan) => selectBackend(familyPlan.family, input.backend ?? 'auto', runner, input.inOwnNamespace ?? true)),
  );

  // The families and the routing are independent: apply them concurrently (this runs on every
  // pod start), then undo whatever succeeded if anything failed.
  const routingAdded: RoutingChange[] = [];
  const routing = (async () => {
    if (plan.ipv6PassthroughAddress) routingAdded.push(...(await ensurePassthroughAddress(runner, input.inOwnNamespace ?? true)));
    if (plan.policyRouting) routingAdded.push(...(await ensurePolicyRouting(plan.policyRouting, runner)));
  })();
  const outcomes = await Promise.allSettled([
    routing,
    ...familyPlans.map((familyPlan, i) => applyFamilyRules(familyPlan, backends[i]!, runner, log)),
  ]);
  const applied = outcomes.slice(1).flatMap((o) => (o.status === 'fulfilled' ? [o.value as FamilyApplyResult] : []));
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) {
    for (const done of applied) if (done.changed) await done.revert();
    await removeRouting(routingAdded, config.inboundTproxyMark, config.inboundTproxyRouteTable, runner);
    throw failure.reason;
  }
  return {
    plan,
    families: applied.map(({ family, backend, changed, tables }) => ({ family, backend, changed, tables })),
    routingAdded,
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
  for (const family of [4, 6] as const) {
    // IPv6 is cleaned wherever ip6tables exists, whatever the pod's addresses are now.
    if (family === 6 && !(await runner.has('ip6tables-save')) && !(await runner.has('ip6tables-nft-save'))) continue;
    const bins = await selectBackend(family, input.backend ?? 'auto', runner, input.inOwnNamespace ?? true);
    const result = await applyFamilyRules(emptyPlan(family), bins, runner, log);
    families.push({ family, backend: result.backend, changed: result.changed, tables: result.tables });
    present.push(family);
  }
  const routing = await findOwnRouting(config.inboundTproxyMark, config.inboundTproxyRouteTable, present, runner, input.inOwnNamespace ?? true);
  await removeRouting(routing, config.inboundTproxyMark, config.inboundTproxyRouteTable, runner);
  log?.debug({ families, routingRemoved: routing.length }, 'capture cleanup done');
  return { families, routingRemoved: routing };
}
