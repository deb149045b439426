/**
 * Reads `iptables-save` output and finds what outrigger owns in it: its chains (Istio's names)
 * and its rules in the built-in chains (those tagged `outrigger/...`, or jumping to one of its
 * chains). Pure text parsing; the applier feeds it the live state.
 */

import { CommentPrefix } from './render-restore.js';
import { isBuiltinChain, OwnChainNames, type Table, Tables } from './rule.js';

export interface SavedTable {
  readonly table: Table;
  /** Our chains that exist in this table. */
  readonly ownChains: string[];
  /** Our rules in built-in chains, exactly as saved (`-A OUTPUT ... -j ISTIO_OUTPUT`). */
  readonly builtinRules: string[];
  /** Number of our rules per chain (own chains and built-in chains). */
  readonly ruleCounts: Map<string, number>;
  /** All saved lines of this table, for a rollback. */
  readonly lines: string[];
}

export interface SavedState {
  readonly tables: ReadonlyMap<Table, SavedTable>;
  /** The plan fingerprint found on our OUTPUT jump, if any. */
  readonly fingerprint: string | null;
}

function isOurBuiltinRule(line: string): boolean {
  if (line.includes(CommentPrefix)) return true;
  const target = /\s-j\s+(\S+)/.exec(line)?.[1];
  return target !== undefined && OwnChainNames.includes(target);
}

export function readSavedState(saveOutput: string): SavedState {
  const tables = new Map<Table, SavedTable>();
  let current: SavedTable | null = null;
  let fingerprint: string | null = null;
  for (const rawLine of saveOutput.split('\n')) {
    const line = rawLine.trimEnd();
    if (line.startsWith('*')) {
      const name = line.slice(1).trim();
      const table = Tables.find((t) => t === name);
      current = table ? { table, ownChains: [], builtinRules: [], ruleCounts: new Map(), lines: [line] } : null;
      if (current) tables.set(current.table, current);
      continue;
    }
    if (!current) continue;
    current.lines.push(line);
    if (line.startsWith(':')) {
      const chain = line.slice(1).split(/\s+/)[0] ?? '';
      if (OwnChainNames.includes(chain)) current.ownChains.push(chain);
      continue;
    }
    if (!line.startsWith('-A ')) continue;
    const chain = line.split(/\s+/)[1] ?? '';
    const ours = isBuiltinChain(chain) ? isOurBuiltinRule(line) : OwnChainNames.includes(chain);
    if (!ours) continue;
    if (isBuiltinChain(chain)) current.builtinRules.push(line);
    current.ruleCounts.set(chain, (current.ruleCounts.get(chain) ?? 0) + 1);
    const found = / plan=([0-9a-f]{16})/.exec(line);
    if (found && current.table === 'nat' && chain === 'OUTPUT') fingerprint = found[1] ?? null;
  }
  return { tables, fingerprint };
}

/**
 * The fwmarks our own mangle rules use (TPROXY's mark, in its chains and in our CONNMARK rules):
 * how a later run finds the policy routing an earlier TPROXY capture added, whatever mark and
 * route table it was given then.
 */
export function ownTproxyMarks(state: SavedState): number[] {
  const mangle = state.tables.get('mangle');
  if (!mangle) return [];
  const marks = new Set<number>();
  for (const line of mangle.lines) {
    if (!line.startsWith('-A ')) continue;
    const chain = line.split(/\s+/)[1] ?? '';
    if (!OwnChainNames.includes(chain) && !mangle.builtinRules.includes(line)) continue;
    for (const found of line.matchAll(/--(?:tproxy-mark|mark|set-xmark|set-mark)\s+(0x[0-9a-f]+|\d+)/gi)) marks.add(Number(found[1]));
  }
  return [...marks].sort((a, b) => a - b);
}
