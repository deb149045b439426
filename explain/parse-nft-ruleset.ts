/**
 * One `table FAMILY NAME { ... }` block of `nft list ruleset` output as a PathTable: its chains
 * (a base chain's `type T hook H priority P; policy X;` line, with priorities by number or by
 * nft's names `raw`, `mangle`, `dstnat`, `filter`, `security`, `srcnat`, optionally `+ N`/`- N`)
 * and rules (parse-nft-rule.ts). Sets, maps, flowtables and named objects are skipped (a rule
 * that looks one up is unknown). `ip`, `ip6` and `inet` tables are kept; other families (arp,
 * bridge, netdev) see no IP packet the way the explainer follows one and are left out with a
 * note. Structure errors (a rule outside a chain, an unclosed block) name the line.
 */

import type { IpFamily } from '../capture/capture-config.js';
import { braceBalance, dumpError, type NumberedLine, quotesBalanced } from './dump-text.js';
import type { BaseChainSpec, ChainType, PathChain, PathRule, PathTable } from './path-model.js';
import { RuleSyntaxError } from './rule-cursor.js';
import { parseNftRule } from './parse-nft-rule.js';

const PriorityNames: Readonly<Record<string, number>> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };

const Families: Readonly<Record<string, readonly IpFamily[]>> = { ip: [4], ip6: [6], inet: [4, 6] };

export interface NftTableResult {
  /** Null for a family the explainer does not follow (its name is in `note`). */
  readonly table: PathTable | null;
  readonly note?: string;
}

function parsePriority(text: string): number | null {
  const m = /^(-?\d+|[a-z]+)(?:\s*([+-])\s*(\d+))?$/.exec(text.trim());
  if (!m) return null;
  const base = /^-?\d+$/.test(m[1] ?? '') ? Number(m[1]) : PriorityNames[m[1] ?? ''];
  if (base === undefined) return null;
  const offset = m[3] === undefined ? 0 : Number(m[3]) * (m[2] === '-' ? -1 : 1);
  return base + offset;
}

/** `type nat hook output priority -100; policy accept;` → the base chain, or an error reason. */
function parseChainHeader(text: string): BaseChainSpec | string {
  const parts = text.split(';').map((p) => p.trim()).filter(Boolean);
  const head = /^type (\S+) hook (\S+)(?: device (?:"[^"]*"|\S+))? priority (.+)$/.exec(parts[0] ?? '');
  if (!head) return 'expected "type T hook H priority P;"';
  const [, type = '', hook = '', priorityText = ''] = head;
  if (!['filter', 'nat', 'route'].includes(type)) return `chain type ${JSON.stringify(type)} is not filter, nat or route`;
  const priority = parsePriority(priorityText);
  if (priority === null) return `priority ${JSON.stringify(priorityText)} is not a number or a known name`;
  let policy: 'accept' | 'drop' = 'accept';
  for (const part of parts.slice(1)) {
    const m = /^policy (accept|drop)$/.exec(part);
    if (!m) return `unexpected ${JSON.stringify(part)} in the chain's header`;
    policy = m[1] as 'accept' | 'drop';
  }
  return { type: type as ChainType, hook, priority, policy };
}

/** Parses lines from `table F N {` to its closing `}` (both included). */
export function parseNftTable(lines: readonly NumberedLine[], input: string): NftTableResult {
  const first = lines[0] as NumberedLine;
  const header = /^table (\S+) (\S+) \{$/.exec(first.text.trim());
  if (!header) throw dumpError(input, first, 'expected "table FAMILY NAME {"');
  const [, family = '', name = ''] = header;
  const families = Families[family];
  const chains = new Map<string, PathChain>();
  let chain: { name: string; base?: BaseChainSpec; rules: PathRule[]; at: NumberedLine } | null = null;
  // Depth of a skipped block (set, map, flowtable, object) inside the table.
  let skipDepth = 0;
  for (const at of lines.slice(1, -1)) {
    const text = at.text.trim();
    if (skipDepth > 0) {
      skipDepth += braceBalance(text);
      continue;
    }
    if (text === '' || text.startsWith('#')) continue;
    if (!quotesBalanced(text)) throw dumpError(input, at, 'a quoted word is not closed');
    if (chain === null) {
      const start = /^chain (\S+) \{$/.exec(text);
      if (start) {
        const chainName = start[1] ?? '';
        if (chains.has(chainName)) throw dumpError(input, at, `chain ${chainName} appears twice in table ${family} ${name}`);
        chain = { name: chainName, rules: [], at };
        continue;
      }
      if (/^(set|map|flowtable|counter|quota|limit|ct|secmark|synproxy) .*\{$/.test(text)) {
        skipDepth = braceBalance(text);
        continue;
      }
      if (/^flags /.test(text) || /^comment "/.test(text)) continue;
      throw dumpError(input, at, `expected "chain NAME {" or a set, map or flowtable in table ${family} ${name}`);
    }
    if (text === '}') {
      chains.set(chain.name, { name: chain.name, ...(chain.base ? { base: chain.base } : {}), rules: chain.rules });
      chain = null;
      continue;
    }
    if (/^type \S+ hook /.test(text)) {
      if (chain.rules.length > 0 || chain.base) throw dumpError(input, at, 'a chain\'s "type ... hook ..." line must come first in the chain');
      const base = parseChainHeader(text);
      if (typeof base === 'string') throw dumpError(input, at, base);
      chain.base = base;
      continue;
    }
    if (/^(comment "|policy |devices? )/.test(text)) continue;
    if (braceBalance(text) !== 0) throw dumpError(input, at, 'a "{" is not closed on this line (nft prints each rule on one line)');
    try {
      const parsed = parseNftRule(text);
      const { family: _ruleFamily, ...rule } = parsed;
      chain.rules.push({ ...rule, origin: { line: at.line, text } });
    } catch (error) {
      if (error instanceof RuleSyntaxError) throw dumpError(input, at, error.message);
      throw error;
    }
  }
  if (chain !== null) throw dumpError(input, chain.at, `chain ${chain.name} is not closed with "}"`);
  for (const c of chains.values()) {
    for (const rule of c.rules) {
      for (const action of rule.actions) {
        if ((action.kind === 'jump' || action.kind === 'goto') && !chains.has(action.chain)) {
          throw dumpError(input, { line: rule.origin.line ?? first.line, text: rule.origin.text }, `jumps to ${action.chain}, which is not a chain of table ${family} ${name}`);
        }
      }
    }
  }
  if (!families) return { table: null, note: `table ${family} ${name} is not followed (the explainer follows ip, ip6 and inet tables)` };
  return { table: { source: 'nftables', name, nftFamily: family, families, chains } };
}
