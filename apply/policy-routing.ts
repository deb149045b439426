/**
 * The iproute2 side of capture: TPROXY's policy routing (packets with the mark are delivered
 * locally: `ip rule fwmark M lookup T` + `ip route local default dev lo table T`) and the IPv6
 * inbound passthrough address `::6/128` on lo. Each step checks first, so re-runs are no-ops,
 * and reports what it added so a failed apply can undo exactly that. Each change names its own
 * mark and table, so routing an earlier run added with other values (found by the marks in our
 * saved mangle rules) can be removed as precisely as this run's.
 */

import type { IpFamily } from '../capture/capture-config.js';
import type { PolicyRoutingPlan } from '../capture/plan-capture.js';
import { ErrorCodes, OutriggerError } from '../common/errors.js';
import type { CommandRunner } from './command-runner.js';
import { readProcFile } from './read-proc-file.js';

const PASSTHROUGH_V6 = '::6';
const PASSTHROUGH_V6_HEX = '00000000000000000000000000000006';

async function ip(runner: CommandRunner, args: string[]): Promise<string> {
  const result = await runner.run('ip', args);
  if (result.exitCode !== 0) {
    throw new OutriggerError(ErrorCodes.ApplyFailed, `ip ${args.join(' ')} failed: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

function familyFlag(family: IpFamily): string {
  return family === 4 ? '-4' : '-6';
}

interface JsonRule { fwmark?: string; table?: string }

/** The family's `fwmark M lookup T` rules whose mark is one of `marks`. */
async function markRules(runner: CommandRunner, family: IpFamily, marks: readonly number[]): Promise<{ mark: number; table: number }[]> {
  const rules = JSON.parse((await ip(runner, ['-j', familyFlag(family), 'rule', 'show'])) || '[]') as JsonRule[];
  return rules.flatMap((r) => {
    if (r.fwmark === undefined || r.table === undefined) return [];
    const mark = Number(r.fwmark);
    const table = Number(r.table); // named tables (main, local) are never ours
    return marks.includes(mark) && Number.isInteger(table) ? [{ mark, table }] : [];
  });
}

async function hasMarkRule(runner: CommandRunner, family: IpFamily, mark: number, table: number): Promise<boolean> {
  return (await markRules(runner, family, [mark])).some((r) => r.table === table);
}

async function hasLocalRoute(runner: CommandRunner, family: IpFamily, table: number): Promise<boolean> {
  const out = await runner.run('ip', ['-j', familyFlag(family), 'route', 'show', 'table', String(table)]);
  if (out.exitCode !== 0) return false; // the table does not exist yet
  const routes = JSON.parse(out.stdout || '[]') as { type?: string; dst?: string; dev?: string }[];
  return routes.some((r) => r.type === 'local' && r.dst === 'default' && r.dev === 'lo');
}

export type RoutingChange =
  | { readonly kind: 'rule'; readonly family: IpFamily; readonly mark: number; readonly table: number }
  | { readonly kind: 'route'; readonly family: IpFamily; readonly table: number }
  | { readonly kind: 'address' };

/**
 * Adds what is missing of the mark rule and the local route, per family. The families, and the
 * rule and route within one, are independent, so their checks and additions run concurrently
 * (this is on every TPROXY pod's start path: 2 spawn round trips instead of 8, and 6 spawns on a
 * fresh pod).
 */
export async function ensurePolicyRouting(plan: PolicyRoutingPlan, runner: CommandRunner): Promise<RoutingChange[]> {
  const ensureRule = async (family: IpFamily): Promise<RoutingChange[]> => {
    if (await hasMarkRule(runner, family, plan.mark, plan.table)) return [];
    await ip(runner, [familyFlag(family), 'rule', 'add', 'fwmark', String(plan.mark), 'lookup', String(plan.table)]);
    return [{ kind: 'rule', family, mark: plan.mark, table: plan.table }];
  };
  // The route is added without looking first: the kernel refuses a second `local default` in the
  // table ("File exists"), and only then is the table read, to tell our route (nothing to add)
  // from another one (an error, as before). A fresh pod pays one spawn for it instead of two.
  const ensureRoute = async (family: IpFamily): Promise<RoutingChange[]> => {
    const add = [familyFlag(family), 'route', 'add', 'local', 'default', 'dev', 'lo', 'table', String(plan.table)];
    const result = await runner.run('ip', add);
    if (result.exitCode === 0) return [{ kind: 'route', family, table: plan.table }];
    if (/File exists/i.test(result.stderr) && (await hasLocalRoute(runner, family, plan.table))) return [];
    throw new OutriggerError(ErrorCodes.ApplyFailed, `ip ${add.join(' ')} failed: ${result.stderr.trim()}`);
  };
  const steps = plan.families.flatMap((family) => [ensureRule(family), ensureRoute(family)]);
  const outcomes = await Promise.allSettled(steps);
  const added = outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value : []));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) {
    // Undo what this call did add before reporting, so the caller's rollback sees a clean slate.
    await removeRouting(added, runner);
    throw failed.reason;
  }
  return added;
}

/** `::6/128` on lo, read from /proc/net/if_inet6 (no spawn) when it is our own namespace's. */
async function hasPassthroughAddress(runner: CommandRunner, inOwnNamespace: boolean): Promise<boolean> {
  const text = inOwnNamespace
    ? readProcFile('/proc/net/if_inet6')
    : (await runner.run('cat', ['/proc/net/if_inet6'])).stdout;
  return text.split('\n').some((line) => {
    const cols = line.trim().split(/\s+/);
    return cols[0] === PASSTHROUGH_V6_HEX && cols[2] === '80' && cols[5] === 'lo';
  });
}

/**
 * In its own namespace the address is looked up first (a file read, no spawn). Through a netns
 * runner that lookup would be a spawn of its own, so the add is tried directly, and "File exists"
 * (older iproute2) or "address already assigned" means it was already there (nothing added,
 * nothing to undo): one spawn instead of two on every CNI ADD.
 */
export async function ensurePassthroughAddress(runner: CommandRunner, inOwnNamespace: boolean): Promise<RoutingChange[]> {
  const add = ['-6', 'addr', 'add', `${PASSTHROUGH_V6}/128`, 'dev', 'lo'];
  if (inOwnNamespace) {
    if (await hasPassthroughAddress(runner, inOwnNamespace)) return [];
    await ip(runner, add);
    return [{ kind: 'address' }];
  }
  const result = await runner.run('ip', add);
  if (result.exitCode === 0) return [{ kind: 'address' }];
  if (/File exists|already assigned/i.test(result.stderr)) return [];
  throw new OutriggerError(ErrorCodes.ApplyFailed, `ip ${add.join(' ')} failed: ${result.stderr.trim()}`);
}

/** Removes the given changes: this run's additions after a failure, or what cleanup found. */
export async function removeRouting(changes: readonly RoutingChange[], runner: CommandRunner): Promise<void> {
  for (const change of changes) {
    if (change.kind === 'address') {
      await runner.run('ip', ['-6', 'addr', 'del', `${PASSTHROUGH_V6}/128`, 'dev', 'lo']);
    } else if (change.kind === 'rule') {
      // Bounded: a namespace has at most a few duplicate rules.
      for (let i = 0; i < 16 && (await hasMarkRule(runner, change.family, change.mark, change.table)); i++) {
        await ip(runner, [familyFlag(change.family), 'rule', 'del', 'fwmark', String(change.mark), 'lookup', String(change.table)]);
      }
    } else if (await hasLocalRoute(runner, change.family, change.table)) {
      await ip(runner, [familyFlag(change.family), 'route', 'del', 'local', 'default', 'dev', 'lo', 'table', String(change.table)]);
    }
  }
}

/**
 * Our policy routing in the given families: every `fwmark M lookup T` rule whose mark is one of
 * `marks` (the configured mark, and those our saved mangle rules used), and the `local default
 * dev lo` route of each such table and of `tables` (the configured one).
 */
export async function findOwnRouting(
  marks: readonly number[], tables: readonly number[], families: readonly IpFamily[], runner: CommandRunner,
): Promise<RoutingChange[]> {
  const found: RoutingChange[] = [];
  for (const family of families) {
    const rules = marks.length > 0 ? await markRules(runner, family, marks) : [];
    for (const { mark, table } of rules) found.push({ kind: 'rule', family, mark, table });
    for (const table of new Set([...tables, ...rules.map((r) => r.table)])) {
      if (await hasLocalRoute(runner, family, table)) found.push({ kind: 'route', family, table });
    }
  }
  return found;
}

/** Whether `::6/128` (ours: the IPv6 inbound passthrough source) is on lo. */
export async function findPassthroughAddress(runner: CommandRunner, inOwnNamespace: boolean): Promise<RoutingChange[]> {
  return (await hasPassthroughAddress(runner, inOwnNamespace)) ? [{ kind: 'address' }] : [];
}
