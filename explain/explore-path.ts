/**
 * Follows a connection once with every uncertain rule assumed not to match, then again for the
 * other answers at each uncertain point it met (depth first, at most MaxRuns runs), and compares
 * where the packet ends up. One destination for every answer: the verdict is certain even though
 * some rules could not be evaluated (they are still named). Several: the verdict is uncertain, and
 * each alternative says which rule it depends on. Pure.
 */

import type { Connection, PodFacts } from './connection.js';
import { type Disposition, followPacket, type PathRun } from './follow-packet.js';
import type { PathRuleset } from './path-model.js';

export const MaxRuns = 64;

export interface Exploration {
  /** The run where every uncertain rule is assumed not to match (and every unknown target to have no effect). */
  readonly primary: PathRun;
  /** Runs that end somewhere else, one per distinct destination. */
  readonly alternatives: readonly PathRun[];
  /** Whether every combination of answers was tried (false: more than MaxRuns). */
  readonly complete: boolean;
}

/** Where a packet ends up, as a comparable key (which rule decided it does not matter). */
export function dispositionKey(d: Disposition): string {
  switch (d.kind) {
    case 'local': return `local ${d.address ?? `@${d.interface ?? ''}`} ${d.port}`;
    case 'tproxy': return `tproxy ${d.port}`;
    case 'remote': return `remote ${d.address} ${d.port}`;
    case 'forwarded': return `forwarded ${d.address}`;
    case 'dropped': case 'rejected': return d.kind;
    case 'unknown': return `unknown ${d.by.table} ${d.by.chain} ${d.by.index}`;
    case 'unreachable': return 'unreachable';
  }
}

export function explorePath(ruleset: PathRuleset, connection: Connection, facts: PodFacts): Exploration {
  const primary = followPacket(ruleset, connection, facts);
  const seen = new Map<string, PathRun>([[dispositionKey(primary.disposition), primary]]);
  let runs = 1;
  let complete = true;
  // Each entry: decisions fixed so far; children flip one later point to "yes".
  const stack: { decisions: boolean[]; run: PathRun }[] = [{ decisions: [], run: primary }];
  while (stack.length > 0) {
    const { decisions, run } = stack.pop() as { decisions: boolean[]; run: PathRun };
    for (let j = decisions.length; j < run.points.length; j++) {
      if (runs >= MaxRuns) {
        complete = false;
        break;
      }
      const next = [...decisions, ...new Array<boolean>(j - decisions.length).fill(false), true];
      const child = followPacket(ruleset, connection, facts, next);
      runs++;
      const key = dispositionKey(child.disposition);
      if (!seen.has(key)) seen.set(key, child);
      stack.push({ decisions: next, run: child });
    }
  }
  return { primary, alternatives: [...seen.values()].filter((r) => r !== primary), complete };
}
