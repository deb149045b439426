/**
 * "Is this plan applied?" for a namespace, without changing anything: the live rules of the
 * configured backend (each iptables family, or our nftables tables) must carry the plan's
 * fingerprint and exactly its rule counts (the same test the applier uses to skip a re-run), and
 * TPROXY's policy routing must be present. Used by the CNI plugin's CHECK.
 */

import type { CaptureConfig, HostFacts, IpFamily } from '../capture/capture-config.js';
import { planCapture } from '../capture/plan-capture.js';
import { isAlreadyApplied } from '../capture/plan-transition.js';
import { isNftApplied } from '../capture/nft-state.js';
import { nftLayout } from '../capture/render-nft.js';
import { readNftLiveState, requireNft } from './apply-nftables.js';
import { readLiveState } from './apply-family-rules.js';
import type { CommandRunner } from './command-runner.js';
import { findOwnRouting } from './policy-routing.js';
import { type BackendChoice, selectBackend } from './select-backend.js';

export interface VerifyInput {
  readonly config: CaptureConfig;
  readonly facts: HostFacts;
  readonly runner: CommandRunner;
  readonly backend?: BackendChoice;
  readonly inOwnNamespace?: boolean;
}

/** What is missing or different; empty when the plan is in place. */
export async function verifyCapture(input: VerifyInput): Promise<string[]> {
  const { config, facts, runner } = input;
  const plan = planCapture(config, facts);
  const inOwn = input.inOwnNamespace ?? true;
  const differences: string[] = [];
  if (config.nativeNftables) {
    await requireNft(runner);
    if (!isNftApplied(nftLayout(plan.rules, plan.families), await readNftLiveState(runner))) differences.push('the nftables tables (inet istio-proxy-*) are not the planned capture rules');
  }
  for (const familyPlan of config.nativeNftables ? [] : plan.ipv6 ? [plan.ipv4, plan.ipv6] : [plan.ipv4]) {
    const bins = await selectBackend(familyPlan.family, input.backend ?? 'auto', runner, inOwn);
    const state = await readLiveState(bins, runner);
    if (!isAlreadyApplied(familyPlan, state)) differences.push(`IPv${familyPlan.family} rules (${bins.backend}) are not the planned capture rules`);
  }
  if (plan.policyRouting) {
    const { mark, table } = plan.policyRouting;
    const found = await findOwnRouting([mark], [table], plan.policyRouting.families, runner);
    for (const family of plan.policyRouting.families as IpFamily[]) {
      if (!found.some((c) => c.kind === 'rule' && c.family === family && c.table === table)) differences.push(`IPv${family} policy-routing rule for mark ${plan.policyRouting.mark} is missing`);
      if (!found.some((c) => c.kind === 'route' && c.family === family && c.table === table)) differences.push(`IPv${family} local route in table ${plan.policyRouting.table} is missing`);
    }
  }
  return differences;
}
