/**
 * Routing an earlier run added that this plan does not want: TPROXY's `ip rule fwmark M lookup T`
 * and `local default` route (found by the marks the earlier run's rules used, whichever backend
 * held them), unless this plan uses the same mark and table in that family; and `::6` once IPv6
 * is no longer captured.
 */

import type { IpFamily } from '../capture/capture-config.js';
import type { CapturePlan } from '../capture/plan-capture.js';
import type { CommandRunner } from './command-runner.js';
import { findOwnRouting, findPassthroughAddress, type RoutingChange } from './policy-routing.js';

export async function unwantedRouting(
  plan: CapturePlan,
  earlier: readonly { readonly family: IpFamily; readonly marks: readonly number[] }[],
  removedIpv6: boolean,
  runner: CommandRunner,
  inOwnNamespace: boolean,
): Promise<RoutingChange[]> {
  const wanted = plan.policyRouting;
  const isWanted = (change: RoutingChange): boolean =>
    change.kind !== 'address' && wanted !== null && wanted.families.includes(change.family) && change.table === wanted.table
    && (change.kind === 'route' || change.mark === wanted.mark);
  const unwanted: RoutingChange[] = [];
  for (const { family, marks } of earlier) {
    if (marks.length === 0) continue;
    for (const change of await findOwnRouting(marks, [], [family], runner)) {
      if (isWanted(change)) continue;
      if (unwanted.some((u) => JSON.stringify(u) === JSON.stringify(change))) continue;
      unwanted.push(change);
    }
  }
  if (!plan.ipv6PassthroughAddress && removedIpv6) unwanted.push(...(await findPassthroughAddress(runner, inOwnNamespace)));
  return unwanted;
}
