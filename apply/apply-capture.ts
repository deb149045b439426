/**
 * The one place capture is applied, for `outrigger init`, the CNI plugin and the repair loop:
 * plan, then the configured backend's applier (iptables, or nftables with nativeNftables) behind
 * one interface (capture-backend.ts). What every backend shares is here: an earlier run with the
 * other backend has its rules removed once this one is in place, routing an earlier run added
 * that this plan does not want goes, and if any of that fails everything this run did is put back.
 * Cleanup removes what either backend added.
 */

import type { CaptureConfig, IpFamily } from '../capture/capture-config.js';
import { planCapture } from '../capture/plan-capture.js';
import { ownTproxyMarks } from '../capture/saved-rules.js';
import type { Logger } from '../common/log.js';
import { applyIptables, removeIptablesRules } from './apply-iptables.js';
import { applyNftables, listNftIfInstalled, removeNftTables } from './apply-nftables.js';
import type { NftState } from '../capture/nft-state.js';
import type { AppliedCapture, ApplyInput, ApplyReport, FamilyOutcome } from './capture-backend.js';
import type { CommandRunner } from './command-runner.js';
import { findOwnRouting, findPassthroughAddress, removeRouting, type RoutingChange } from './policy-routing.js';
import type { BackendChoice } from './select-backend.js';
import { unwantedRouting } from './unwanted-routing.js';

export type { ApplyInput, ApplyReport, FamilyOutcome } from './capture-backend.js';

interface OtherBackend {
  readonly removed: readonly string[];
  readonly earlierMarks: AppliedCapture['earlierMarks'];
  readonly removedIpv6: boolean;
  revert(): Promise<void>;
}

const NothingRemoved: OtherBackend = { removed: [], earlierMarks: [], removedIpv6: false, revert: async () => {} };

/** Our rules of the backend this run does not use, removed (nothing where the namespace cannot hold any). */
async function removeOtherBackend(input: ApplyInput, applied: AppliedCapture, nftListed: Promise<NftState> | null): Promise<OtherBackend> {
  const { runner, log } = input;
  if (input.mayHoldEarlierRun === false) return NothingRemoved;
  if (input.config.nativeNftables) {
    if (!applied.otherBackendSeen) return NothingRemoved;
    const removed = await removeIptablesRules(runner, 'auto', input.inOwnNamespace ?? true, log);
    const changed = removed.families.filter((f) => f.changed);
    return {
      removed: changed.map((f) => `IPv${f.family} ${f.backend} iptables`),
      earlierMarks: removed.families.map((f) => ({ family: f.family, marks: ownTproxyMarks(f.previous) })),
      removedIpv6: changed.some((f) => f.family === 6),
      revert: removed.revert,
    };
  }
  const removed = await removeNftTables(runner, log, nftListed ?? undefined);
  const marks = removed.previous.marks;
  return {
    removed: removed.tables.map((name) => `nftables ${name}`),
    earlierMarks: marks.length > 0 ? [{ family: 4, marks }, { family: 6, marks }] : [],
    removedIpv6: removed.previous.capturesIpv6,
    revert: removed.revert,
  };
}

export async function applyCapture(input: ApplyInput): Promise<ApplyReport> {
  const { config, facts, runner } = input;
  const plan = planCapture(config, facts);
  const backend = config.nativeNftables ? 'nftables' : 'iptables';
  // With iptables, our nftables tables of an earlier run are listed while iptables applies.
  const nftListed = !config.nativeNftables && input.mayHoldEarlierRun !== false ? listNftIfInstalled(runner) : null;
  void nftListed?.catch(() => {}); // awaited below; a failure is reported there
  let applied: AppliedCapture;
  try {
    applied = config.nativeNftables ? await applyNftables(input, plan) : await applyIptables(input, plan);
  } catch (error) {
    await nftListed?.catch(() => {});
    throw error;
  }
  let other: OtherBackend = NothingRemoved;
  let routingRemoved: RoutingChange[];
  try {
    other = await removeOtherBackend(input, applied, nftListed);
    routingRemoved = await unwantedRouting(plan, [...applied.earlierMarks, ...other.earlierMarks], applied.removedIpv6 || other.removedIpv6, runner, input.inOwnNamespace ?? true);
    await removeRouting(routingRemoved, runner);
  } catch (error) {
    await other.revert();
    await applied.undo();
    throw error;
  }
  return { plan, backend, families: applied.families, routingAdded: applied.routingAdded, routingRemoved, otherBackendRemoved: other.removed };
}

export interface CleanupInput {
  readonly config: CaptureConfig;
  readonly runner: CommandRunner;
  /** Which iptables backend to clean (`auto` as Istio chooses it). */
  readonly backend?: BackendChoice;
  readonly inOwnNamespace?: boolean;
  readonly log?: Logger;
}

export interface CleanupReport {
  readonly families: readonly FamilyOutcome[];
  /** Our nftables tables that were removed. */
  readonly nftTables: readonly string[];
  readonly routingRemoved: readonly RoutingChange[];
}

/**
 * Removes every rule, chain, table, policy-routing rule and address outrigger added, with either
 * backend, and nothing else. A backend whose tools are not installed holds nothing of ours.
 */
export async function cleanupCapture(input: CleanupInput): Promise<CleanupReport> {
  const { config, runner, log } = input;
  const inOwnNamespace = input.inOwnNamespace ?? true;
  const iptables = await removeIptablesRules(runner, input.backend ?? 'auto', inOwnNamespace, log);
  let nft;
  try {
    nft = await removeNftTables(runner, log);
  } catch (error) {
    await iptables.revert();
    throw error;
  }
  const families: FamilyOutcome[] = iptables.families.map(({ family, backend, changed, tables }) => ({ family, backend, changed, tables }));
  // The configured mark and table, and whatever marks the removed rules used (an earlier run's
  // -t/-r may differ from this cleanup's).
  const marks = new Set([config.inboundTproxyMark, ...nft.previous.marks]);
  for (const result of iptables.families) for (const mark of ownTproxyMarks(result.previous)) marks.add(mark);
  const routing: RoutingChange[] = [];
  for (const family of [4, 6] as const satisfies readonly IpFamily[]) {
    try {
      routing.push(...(await findOwnRouting([...marks], [config.inboundTproxyRouteTable], [family], runner)));
    } catch (error) {
      if (family === 4) throw error; // a kernel without IPv6 has no IPv6 routing of ours
    }
  }
  routing.push(...(await findPassthroughAddress(runner, inOwnNamespace)));
  await removeRouting(routing, runner);
  log?.debug({ families, nftTables: nft.tables, routingRemoved: routing.length }, 'capture cleanup done');
  return { families, nftTables: nft.tables, routingRemoved: routing };
}
