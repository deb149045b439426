/**
 * Reads `nft list ruleset` text and finds what outrigger owns in it: our three inet tables (by
 * Istio's names), their chains and rule counts, the plan fingerprint on nat output's jump, the
 * marks our mangle table uses (how a later run finds an earlier TPROXY capture's policy routing),
 * whether that plan had IPv6, and the listing of each table (loadable again by `nft -f`, to put
 * it back). It also notices our iptables chains when iptables-nft put them in `ip`/`ip6` tables
 * (a run with the other backend). Pure text parsing; the applier feeds it the live listing.
 */

import { NftFamily, OwnNftTableNames } from './nft-tables.js';
import { OwnChainNames } from './rule.js';
import type { NftLayout } from './render-nft.js';

export interface NftTableState {
  readonly name: string;
  /** Chain name → number of rules. */
  readonly ruleCounts: ReadonlyMap<string, number>;
  /** The table's listing, from `table inet NAME {` to its closing brace. */
  readonly listing: string;
}

export interface NftState {
  /** Our tables that exist, by name. */
  readonly tables: ReadonlyMap<string, NftTableState>;
  readonly fingerprint: string | null;
  /** Marks our mangle table matches or sets (TPROXY's mark, the proxy's outbound mark). */
  readonly marks: readonly number[];
  /** Our tables exist and capture IPv6 too (no `ipv6-not-captured` guard). */
  readonly capturesIpv6: boolean;
  /** iptables-nft holds chains with our (Istio's) names, e.g. `table ip nat { chain ISTIO_OUTPUT`. */
  readonly iptablesChains: boolean;
}

export const EmptyNftState: NftState = { tables: new Map(), fingerprint: null, marks: [], capturesIpv6: false, iptablesChains: false };

export function readNftState(listing: string): NftState {
  const tables = new Map<string, NftTableState>();
  let fingerprint: string | null = null;
  const marks = new Set<number>();
  let guarded = false;
  let iptablesChains = false;
  const lines = listing.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const header = /^table (\S+) (\S+) \{$/.exec(lines[i] ?? '');
    if (!header) continue;
    const [, family, name = ''] = header;
    let end = i + 1;
    while (end < lines.length && lines[end] !== '}') end++;
    const block = lines.slice(i, end + 1);
    i = end;
    if ((family === 'ip' || family === 'ip6') && block.some((l) => OwnChainNames.some((c) => l.trim() === `chain ${c} {`))) iptablesChains = true;
    if (family !== NftFamily || !OwnNftTableNames.includes(name)) continue;
    const ruleCounts = new Map<string, number>();
    let chain: string | null = null;
    for (const raw of block.slice(1, -1)) {
      const line = raw.trim();
      const start = /^chain (\S+) \{$/.exec(line);
      if (start) {
        chain = start[1] ?? '';
        ruleCounts.set(chain, 0);
        continue;
      }
      if (line === '}') {
        chain = null;
        continue;
      }
      if (!chain || line === '' || /^type \S+ hook /.test(line)) continue;
      ruleCounts.set(chain, (ruleCounts.get(chain) ?? 0) + 1);
      if (line.includes('"outrigger/ipv6-not-captured"')) guarded = true;
      const found = / plan=([0-9a-f]{16})"$/.exec(line);
      if (found && name === 'istio-proxy-nat' && chain === 'output') fingerprint = found[1] ?? null;
      if (name === 'istio-proxy-mangle') {
        for (const m of line.matchAll(/\b(?:mark|mark set) (?:!= )?(0x[0-9a-f]+|\d+)\b/g)) marks.add(Number(m[1]));
      }
    }
    tables.set(name, { name, ruleCounts, listing: `${block.join('\n')}\n` });
  }
  return {
    tables,
    fingerprint,
    marks: [...marks].sort((a, b) => a - b),
    capturesIpv6: tables.size > 0 && !guarded,
    iptablesChains,
  };
}

/** True when our tables hold exactly the layout: its fingerprint and its chains and rule counts, nothing more. */
export function isNftApplied(layout: NftLayout, state: NftState): boolean {
  if (state.fingerprint !== layout.fingerprint) return false;
  if (state.tables.size !== layout.tables.length) return false;
  for (const table of layout.tables) {
    const found = state.tables.get(table.name);
    if (!found || found.ruleCounts.size !== table.chains.length) return false;
    for (const chain of table.chains) if (found.ruleCounts.get(chain.name) !== chain.rules.length) return false;
  }
  return true;
}

/** A script that puts our tables back as the state had them (tables it did not have are removed). */
export function renderNftRestore(state: NftState): string {
  const lines: string[] = [];
  for (const name of OwnNftTableNames) lines.push(`add table ${NftFamily} ${name}`, `delete table ${NftFamily} ${name}`);
  return `${lines.join('\n')}\n${[...state.tables.values()].map((t) => t.listing).join('')}`;
}
