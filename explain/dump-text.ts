/**
 * Helpers shared by the dump parsers: numbered lines, the one error a malformed dump gets (an
 * InvalidInput naming the input, the line number and the line), a tokenizer for quoted words
 * (`"outrigger/localhost"`, `"a \"b\""`), and address, port and mark values as both iptables-save
 * and nft print them, quote and brace balance. Pure text handling.
 */

import type { IpFamily } from '../capture/capture-config.js';
import { formatAddress, parseIp } from '../capture/ip-address.js';
import { invalidInput, type OutriggerError } from '../common/errors.js';
import type { PortRange } from './path-model.js';

export interface NumberedLine {
  /** 1-based line number in the input. */
  readonly line: number;
  readonly text: string;
}

/** The longest line a dump may have: far beyond any real rule, short of exhausting anything. */
export const MaxLineLength = 64 * 1024;

export function numberLines(text: string): NumberedLine[] {
  return text.split('\n').map((line, i) => ({ line: i + 1, text: line.endsWith('\r') ? line.slice(0, -1) : line }));
}

/** `rules.txt line 12: <reason>` with the line itself as the value. */
export function dumpError(input: string, at: NumberedLine, reason: string): OutriggerError {
  const shown = at.text.length > 200 ? `${at.text.slice(0, 200)}...` : at.text;
  return invalidInput([{ source: `${input} line ${at.line}`, value: shown, reason }], 'rules');
}

/** Words of a line, with `"..."` as one word (backslash escapes kept literal characters). */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const match of text.matchAll(pattern)) tokens.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? ''));
  return tokens;
}

/** Braces opened minus closed outside quoted words (nft's blocks: `table … {`, `{ 53, 15008 }`). */
export function braceBalance(text: string): number {
  let depth = 0;
  let inside = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && inside) i++;
    else if (ch === '"') inside = !inside;
    else if (!inside && ch === '{') depth++;
    else if (!inside && ch === '}') depth--;
  }
  return depth;
}

/** Whether the line's quotes are balanced (a `"` inside a quoted word is escaped). */
export function quotesBalanced(text: string): boolean {
  let inside = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && inside) i++;
    else if (c === '"') inside = !inside;
  }
  return !inside;
}

/** `10.0.0.0/8`, `10.1.2.3` (a host), `::1/128` → canonical CIDR text and family; null if not an address. */
export function parseAddressOrCidr(text: string): { readonly cidr: string; readonly family: IpFamily } | null {
  const slash = text.indexOf('/');
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!address) return null;
  const max = address.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (/^\d{1,3}$/.test(prefixText)) prefix = Number(prefixText);
    else {
      // iptables-save may print a dotted mask (`/255.255.255.0`) for non-contiguous masks only; refuse those.
      return null;
    }
    if (prefix > max) return null;
  }
  return { cidr: `${formatAddress(address)}/${prefix}`, family: address.family };
}

/** A port `80` or range `80:90` (iptables) / `80-90` (nft); null if not one. */
export function parsePortRange(text: string): PortRange | null {
  const match = /^(\d{1,5})(?:[:-](\d{1,5}))?$/.exec(text);
  if (!match) {
    // `:90` and `80:` are iptables' open ranges.
    const open = /^(\d{0,5}):(\d{0,5})$/.exec(text);
    if (!open || (open[1] === '' && open[2] === '')) return null;
    const low = open[1] === '' ? 0 : Number(open[1]);
    const high = open[2] === '' ? 65535 : Number(open[2]);
    return low <= high && high <= 65535 ? [low, high] : null;
  }
  const low = Number(match[1]);
  const high = match[2] === undefined ? low : Number(match[2]);
  return low <= high && high <= 65535 ? [low, high] : null;
}

/** A 32-bit number in decimal or hex (`1337`, `0x539`, `0x00000539`); null otherwise. */
export function parseNumber32(text: string): number | null {
  if (!/^(0x[0-9a-fA-F]{1,8}|\d{1,10})$/.test(text)) return null;
  const value = Number(text);
  return value <= 0xffffffff ? value : null;
}

/** `V` or `V/M` → [value, mask]; mask defaults to `defaultMask`. */
export function parseValueMask(text: string, defaultMask = 0xffffffff): readonly [number, number] | null {
  const [v, m] = text.split('/');
  const value = parseNumber32(v ?? '');
  const mask = m === undefined ? defaultMask : parseNumber32(m);
  return value === null || mask === null ? null : [value, mask];
}

/** A protocol name or number as the model names it (`6` is `tcp`). */
export function protocolName(text: string): string {
  const lower = text.toLowerCase();
  return ({ '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'ipv6-icmp', icmpv6: 'ipv6-icmp', '132': 'sctp' } as Record<string, string>)[lower] ?? lower;
}
