/**
 * Parses iptables-restore (and iptables-save) text into comparable data, normalising only what
 * iptables-restore itself treats as identical: `* nat`/`*nat`, `-N X`/`:X - [0:0]`,
 * `--to-port`/`--to-ports`, and `-m comment --comment ...` (outrigger's purpose comments). Used
 * by the conformance test; the real-kernel property test passes a stricter normaliser
 * (canonical-rule.ts) that spells each rule as the kernel gives it back.
 */

import { tokenize } from '../../explain/dump-text.js';

/** Words of a rule line, `"..."` as one word: the explainer's tokenizer, the same rules as iptables-restore's. */
export { tokenize };

export interface RestoreTable {
  readonly table: string;
  readonly chains: string[];
  /** Each rule as `-A CHAIN tokens...` or `-I CHAIN N tokens...`, comments removed. */
  readonly rules: string[];
}

export function normaliseRule(line: string): string {
  const tokens = tokenize(line);
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === '-m' && tokens[i + 1] === 'comment' && tokens[i + 2] === '--comment') {
      i += 3;
      continue;
    }
    out.push(tokens[i] === '--to-port' ? '--to-ports' : (tokens[i] ?? ''));
  }
  return out.join(' ');
}

export interface ParseOptions {
  /** Turns one rule line into its comparable form; default normaliseRule. */
  readonly normalise?: (line: string) => string;
}

/**
 * Splits a sequence of table blocks into restore documents: a table name that does not sort
 * after the previous one starts a new document.
 */
export function parseRestoreDocuments(text: string, options: ParseOptions = {}): RestoreTable[][] {
  return parseTables(text, true, options.normalise ?? normaliseRule);
}

/** One document whose tables may come in any order, as iptables-save prints them (nft: mangle, raw, nat). */
export function parseRestoreDocument(text: string, options: ParseOptions = {}): RestoreTable[] {
  return parseTables(text, false, options.normalise ?? normaliseRule)[0] ?? [];
}

function parseTables(text: string, splitDocuments: boolean, normalise: (line: string) => string): RestoreTable[][] {
  const documents: RestoreTable[][] = [];
  let current: RestoreTable | null = null;
  let lastTable = '';
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || /^ip6?tables-save$/.test(line)) continue;
    if (line.startsWith('*')) {
      const table = line.slice(1).trim();
      if (documents.length === 0 || (splitDocuments && table <= lastTable)) documents.push([]);
      lastTable = table;
      current = { table, chains: [], rules: [] };
      documents[documents.length - 1]?.push(current);
      continue;
    }
    if (!current) throw new Error(`rule outside a table: ${line}`);
    if (line === 'COMMIT') {
      current = null;
      continue;
    }
    if (line.startsWith('-N ')) current.chains.push(line.slice(3).trim());
    else if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0] ?? '';
      if (!['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'].includes(name)) current.chains.push(name);
    } else current.rules.push(normalise(line));
  }
  return documents;
}

/** Tables keyed by name, for comparison where table block order may differ. */
export function byTable(document: readonly RestoreTable[]): Record<string, { chains: string[]; rules: string[] }> {
  const result: Record<string, { chains: string[]; rules: string[] }> = {};
  for (const t of document) result[t.table] = { chains: [...t.chains].sort(), rules: t.rules };
  return result;
}
