/**
 * One rule line of `nft list ruleset` as a PathRule: matches (`iifname "lo"`, `meta l4proto tcp`,
 * `ip daddr != 127.0.0.1`, `tcp dport != { 53, 15008 }`, `meta skuid 1337`, `meta mark 0x00000539`,
 * `meta mark & 0x4000 == 0x4000`, `ct state established,related`, `ct mark 0x539`, `meta nfproto
 * ipv6`, `fib daddr type local`) and statements (`counter packets N bytes M`, `jump`, `goto`,
 * `return`, `accept`, `drop`, `reject`, `redirect to :15001`, `dnat ip to 10.0.0.1:80`, `tproxy ip to
 * :15006`, `meta mark set 0x539`, `ct mark set meta mark`, `meta mark set ct mark`, `ct zone set 1`,
 * `log`, `comment "..."`), as nft 1.0 prints them. A match the model does not evaluate (a named set
 * `@x`, `limit`, `socket`, iptables-nft's `xt match "..."`) is kept as unknown with its words; a
 * statement it does not know is an unknown action. Syntax it cannot read (an unclosed `{`, an
 * operator without a value) is an error with the reason.
 */

import type { IpFamily } from '../capture/capture-config.js';
import { CommentPrefix } from '../capture/render-restore.js';
import { isRulePurpose } from '../capture/rule-purposes.js';
import { parseAddressOrCidr, parseNumber32, parsePortRange, parseValueMask, protocolName } from './dump-text.js';
import type { AddressType, InterfaceName, PathAction, PathRule, PortRange, Term } from './path-model.js';
import { type Cursor, failRule, next, peek } from './rule-cursor.js';

/** Words, quoted strings, and `{`, `}`, `,` as tokens of their own. */
export function nftTokens(text: string): string[] {
  const tokens: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|([{},])|([^\s{},"]+)/g;
  for (const match of text.matchAll(pattern)) {
    if (match[1] !== undefined) tokens.push(`"${match[1]}"`);
    else tokens.push(match[2] ?? match[3] ?? '');
  }
  return tokens;
}

const unquote = (token: string): string => (token.startsWith('"') && token.endsWith('"') ? token.slice(1, -1).replace(/\\(.)/g, '$1') : token);


/** A value: one word, a bare list `a,b`, or `{ a, b }`; raw tokens (quoted ones keep their quotes). */
function values(c: Cursor, what: string): string[] {
  if (peek(c) !== '{') {
    // A bare list (`ct state established,related`) is words joined by commas.
    const items = [next(c, what)];
    while (peek(c) === ',') {
      c.at++;
      items.push(next(c, what));
    }
    return items;
  }
  c.at++;
  const items: string[] = [];
  while (peek(c) !== '}') {
    const token = next(c, `${what} set`);
    if (token === '{') failRule(`${what}: nested sets are not supported`);
    if (token !== ',') items.push(token);
  }
  c.at++;
  return items;
}

const Operators = new Set(['==', '!=', '<', '>', '<=', '>=', 'eq', 'ne', 'lt', 'gt', 'le', 'ge']);

/**
 * `[op] value`: whether it is negated and the values (unquoted), or null when the match cannot be
 * evaluated: a relational operator, or a lookup in a named set (`@name`, unquoted).
 */
function operatorValues(c: Cursor, what: string): { negate: boolean; items: string[]; raw: string[] } | null {
  let negate = false;
  const op = peek(c);
  let evaluable = true;
  if (op !== undefined && Operators.has(op)) {
    c.at++;
    if (op === '!=' || op === 'ne') negate = true;
    else if (op !== '==' && op !== 'eq') evaluable = false;
  }
  const raw = values(c, what);
  if (!evaluable || raw.some((t) => t.startsWith('@'))) return null;
  return { negate, items: raw.map(unquote), raw };
}

/** nft's interface name: a trailing `*` is a prefix (written `\*` it is a star). */
function nftInterface(raw: string): InterfaceName {
  const escaped = /\\\*"?$/.test(raw);
  const name = unquote(raw);
  return name.endsWith('*') && !escaped ? { name: name.slice(0, -1), prefix: true } : { name, prefix: false };
}

const FibTypes: Readonly<Record<string, AddressType>> = { local: 'local', unicast: 'unicast' };

/** Words that start a statement, not a match. */
const StatementWords = new Set(['counter', 'accept', 'drop', 'return', 'jump', 'goto', 'reject', 'redirect', 'dnat', 'snat', 'masquerade', 'tproxy', 'log', 'comment', 'notrack', 'queue', 'continue', 'limit', 'quota', 'flow', 'dup', 'fwd', 'synproxy', 'xt', 'update', 'add', 'delete']);

export interface ParsedNftRule extends Omit<PathRule, 'origin'> {
  /** The family the rule's address terms or family match name, if any. */
  readonly family?: IpFamily;
}

export function parseNftRule(text: string): ParsedNftRule {
  const c: Cursor = { tokens: nftTokens(text), at: 0 };
  const terms: Term[] = [];
  const unknown: string[] = [];
  const actions: PathAction[] = [];
  let comment: string | undefined;
  let family: IpFamily | undefined;
  // Words from `start` on, for an unknown part.
  const words = (start: number): string => c.tokens.slice(start, c.at).join(' ');

  const matchAfterStatement = (): void => {
    if (actions.some((a) => a.kind !== 'log' && a.kind !== 'continue')) unknown.push(`a match after the statement ${actions[actions.length - 1]?.kind}: not evaluated`);
  };

  while (c.at < c.tokens.length) {
    const start = c.at;
    const set = parseSetStatement(c.tokens, c.at);
    if (set) {
      actions.push(set.action);
      c.at = set.end;
      continue;
    }
    if (peek(c, 1) === 'set' || peek(c, 2) === 'set') {
      // Another `X set ...` statement (`meta nftrace set 1`, `meta priority set ...`): no effect we model, or unknown.
      c.at += peek(c, 1) === 'set' ? 2 : 3;
      while (c.at < c.tokens.length && !StatementWords.has(peek(c) ?? '') && !MatchStarts.has(peek(c) ?? '')) c.at++;
      actions.push(c.tokens[start + 1] === 'nftrace' ? { kind: 'log' } : { kind: 'unknown', text: words(start) });
      continue;
    }
    const word = next(c, 'the rule');
    if (StatementWords.has(word)) {
      const action = statement(word, c, (t) => (comment = t));
      if (action) actions.push(action);
      continue;
    }
    matchAfterStatement();
    const before = terms.length;
    const known = match(word, c, terms);
    if (known === 'unknown') {
      // Skip the rest of this match: up to the next word that starts a match or statement.
      while (c.at < c.tokens.length && !StatementWords.has(peek(c) ?? '') && !MatchStarts.has(peek(c) ?? '')) c.at++;
      terms.length = before;
      unknown.push(words(start));
      continue;
    }
    for (const term of terms.slice(before)) {
      if (term.kind === 'source' || term.kind === 'destination' || term.kind === 'family') family = term.family;
    }
  }
  if (actions.length === 0) actions.push({ kind: 'continue' });
  const purpose = comment?.startsWith(CommentPrefix) ? comment.slice(CommentPrefix.length).split(' ')[0] : undefined;
  return {
    terms,
    actions: actions.filter((a, i) => a.kind !== 'continue' || i === actions.length - 1 || actions.length === 1),
    unknown,
    ...(purpose !== undefined && isRulePurpose(purpose) ? { purpose } : {}),
    ...(comment !== undefined ? { comment } : {}),
    ...(family !== undefined ? { family } : {}),
  };
}

/** First words of the matches this parser knows (where an unknown match's words end). */
const MatchStarts = new Set(['iifname', 'oifname', 'iif', 'oif', 'meta', 'ip', 'ip6', 'tcp', 'udp', 'th', 'ct', 'fib', 'mark', 'skuid', 'skgid', 'l4proto', 'nfproto', 'socket']);

function match(word: string, c: Cursor, terms: Term[]): 'done' | 'unknown' {
  let selector = word;
  if (word === 'meta') selector = next(c, 'meta');
  switch (selector) {
    case 'iifname': case 'oifname': case 'iif': case 'oif': {
      const v = operatorValues(c, selector);
      if (!v) return 'unknown';
      terms.push({ kind: selector.startsWith('i') ? 'in-interface' : 'out-interface', names: v.raw.map(nftInterface), negate: v.negate });
      return 'done';
    }
    case 'l4proto': {
      const v = operatorValues(c, 'l4proto');
      if (!v) return 'unknown';
      terms.push({ kind: 'protocol', protocols: v.items.map(protocolName), negate: v.negate });
      return 'done';
    }
    case 'nfproto': {
      const v = operatorValues(c, 'nfproto');
      if (!v || v.items.length !== 1 || !['ipv4', 'ipv6'].includes(v.items[0] ?? '')) return 'unknown';
      terms.push({ kind: 'family', family: v.items[0] === 'ipv4' ? 4 : 6, negate: v.negate });
      return 'done';
    }
    case 'skuid': case 'skgid': {
      const v = operatorValues(c, selector);
      if (!v) return 'unknown';
      const ids = v.items.map((i) => {
        const range = parsePortRangeLike(i);
        return range ?? i;
      });
      terms.push({ kind: 'owner', by: selector === 'skuid' ? 'uid' : 'gid', ids, negate: v.negate });
      return 'done';
    }
    case 'mark':
      return markMatch('mark', c, terms);
    case 'ip': case 'ip6': {
      const field = next(c, selector);
      const ipFamily: IpFamily = selector === 'ip' ? 4 : 6;
      if (field === 'saddr' || field === 'daddr') {
        const v = operatorValues(c, `${selector} ${field}`);
        if (!v || v.items.some((i) => /^[^/]*-/.test(i))) return 'unknown';
        const cidrs = v.items.map((i) => parseAddressOrCidr(i) ?? failRule(`${selector} ${field} ${JSON.stringify(i)} is not an address`));
        if (cidrs.some((x) => x.family !== ipFamily)) failRule(`${selector} ${field} ${v.items.join(',')} is not an IPv${ipFamily} address`);
        terms.push({ kind: field === 'saddr' ? 'source' : 'destination', family: ipFamily, cidrs: cidrs.map((x) => x.cidr), negate: v.negate });
        return 'done';
      }
      if (field === 'protocol' || field === 'nexthdr') {
        const v = operatorValues(c, `${selector} ${field}`);
        if (!v) return 'unknown';
        terms.push({ kind: 'family', family: ipFamily, negate: false });
        terms.push({ kind: 'protocol', protocols: v.items.map(protocolName), negate: v.negate });
        return 'done';
      }
      if (field === 'version') return 'unknown';
      return 'unknown';
    }
    case 'tcp': case 'udp': case 'th': {
      const field = next(c, selector);
      if (field === 'sport' || field === 'dport') {
        const v = operatorValues(c, `${selector} ${field}`);
        if (!v) return 'unknown';
        const ranges = v.items.map((i) => parsePortRange(i) ?? failRule(`${selector} ${field} ${JSON.stringify(i)} is not a port`));
        terms.push({ kind: field === 'sport' ? 'source-port' : 'destination-port', protocol: selector === 'th' ? 'any' : selector, ranges, negate: v.negate });
        return 'done';
      }
      if (selector === 'tcp' && field === 'flags') {
        // `tcp flags syn / fin,syn,rst,ack` (nft 1.0) or `tcp flags & (fin|syn|rst|ack) == syn`.
        const rest: string[] = [];
        while (c.at < c.tokens.length && !StatementWords.has(peek(c) ?? '') && !MatchStarts.has(peek(c) ?? '')) rest.push(next(c, 'tcp flags'));
        const spelled = rest.join(' ');
        if (spelled === 'syn / fin,syn,rst,ack' || spelled === '& (fin|syn|rst|ack) == syn') {
          terms.push({ kind: 'tcp-syn', negate: false });
          return 'done';
        }
        return 'unknown';
      }
      return 'unknown';
    }
    case 'ct': {
      const field = next(c, 'ct');
      if (field === 'state') {
        const v = operatorValues(c, 'ct state');
        if (!v) return 'unknown';
        const states = v.items.flatMap((i) => i.split(',')).filter(Boolean).map((s) => s.toUpperCase()).sort();
        terms.push({ kind: 'conntrack-state', states, negate: v.negate });
        return 'done';
      }
      if (field === 'mark') {
        if (peek(c) === 'set') failRule('"ct mark set" is a statement; it was read as a match');
        return markMatch('connection-mark', c, terms);
      }
      return 'unknown';
    }
    case 'fib': {
      // fib daddr type local / fib saddr type local (optionally with . iif / . oif).
      const field = next(c, 'fib');
      if ((field !== 'daddr' && field !== 'saddr') || next(c, 'fib') !== 'type') return 'unknown';
      const v = operatorValues(c, 'fib type');
      if (!v) return 'unknown';
      const types = v.items.map((t) => FibTypes[t] ?? null);
      if (types.some((t) => t === null)) return 'unknown';
      terms.push({ kind: 'address-type', of: field === 'daddr' ? 'destination' : 'source', types: types as AddressType[], negate: v.negate });
      return 'done';
    }
    default:
      return 'unknown';
  }
}

function parsePortRangeLike(text: string): PortRange | null {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  return m ? [Number(m[1]), Number(m[2] ?? m[1])] : null;
}

/** `mark [!=] V`, `mark { V, ... }` (single values only), `mark & M == V`, `mark and M != V`. */
function markMatch(kind: 'mark' | 'connection-mark', c: Cursor, terms: Term[]): 'done' | 'unknown' {
  if (peek(c) === '&' || peek(c) === 'and') {
    c.at++;
    const mask = parseNumber32(next(c, 'mark mask'));
    const v = operatorValues(c, 'mark');
    if (mask === null || !v || v.items.length !== 1) return 'unknown';
    const value = parseNumber32(v.items[0] ?? '');
    if (value === null) return 'unknown';
    terms.push({ kind, value, mask, negate: v.negate });
    return 'done';
  }
  const v = operatorValues(c, 'mark');
  if (!v || v.items.length !== 1) return 'unknown';
  const parsed = parseValueMask(v.items[0] ?? '');
  if (!parsed) return 'unknown';
  terms.push({ kind, value: parsed[0], mask: parsed[1], negate: v.negate });
  return 'done';
}

/** `to :15001`, `to 15001`, `to 10.0.0.1:80`, `to [2001:db8::1]:80`, `ip to ...`. */
function target(c: Cursor, what: string): { address?: string; port?: number; family?: IpFamily } {
  let family: IpFamily | undefined;
  if (peek(c) === 'ip' || peek(c) === 'ip6') family = next(c, what) === 'ip' ? 4 : 6;
  if (peek(c) !== 'to') return family ? { family } : {};
  c.at++;
  const text = next(c, `${what} to`);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)|([0-9a-fA-F:]*:[0-9a-fA-F:]*))?(?::(\d+))?$/.exec(text);
  if (text.startsWith(':') && /^:\d+$/.test(text)) return { port: Number(text.slice(1)), ...(family ? { family } : {}) };
  if (/^\d+$/.test(text)) return { port: Number(text), ...(family ? { family } : {}) };
  if (!m) failRule(`${what} to ${JSON.stringify(text)} is not an address or port`);
  const address = m?.[1] ?? m?.[2] ?? m?.[3];
  return { ...(address ? { address } : {}), ...(m?.[4] ? { port: Number(m[4]) } : {}), ...(family ? { family } : {}) };
}

function statement(word: string, c: Cursor, onComment: (text: string) => void): PathAction | null {
  const start = c.at - 1;
  const rest = (): string => c.tokens.slice(start, c.at).join(' ');
  switch (word) {
    case 'counter':
      if (peek(c) === 'packets') c.at += 4; // packets N bytes M
      else if (peek(c) === 'name') c.at += 2;
      return null;
    case 'comment':
      onComment(unquote(next(c, 'comment')));
      return null;
    case 'log':
      while (['prefix', 'level', 'group', 'snaplen', 'queue-threshold', 'flags'].includes(peek(c) ?? '')) c.at += 2;
      return { kind: 'log' };
    case 'accept': return { kind: 'accept' };
    case 'drop': return { kind: 'drop' };
    case 'return': return { kind: 'return' };
    case 'continue': return { kind: 'continue' };
    case 'notrack': return { kind: 'notrack' };
    case 'jump': return { kind: 'jump', chain: unquote(next(c, 'jump')) };
    case 'goto': return { kind: 'goto', chain: unquote(next(c, 'goto')) };
    case 'reject':
      // `with tcp reset`, `with icmp type port-unreachable`, `with icmpx admin-prohibited`.
      while (c.at < c.tokens.length && !StatementWords.has(peek(c) ?? '')) c.at++;
      return { kind: 'reject' };
    case 'redirect': {
      const to = target(c, 'redirect');
      if (to.address) failRule('redirect takes a port only');
      return { kind: 'redirect', ...(to.port !== undefined ? { port: to.port } : {}) };
    }
    case 'dnat': {
      const to = target(c, 'dnat');
      return { kind: 'dnat', ...(to.address ? { address: to.address } : {}), ...(to.port !== undefined ? { port: to.port } : {}) };
    }
    case 'snat': case 'masquerade':
      while (c.at < c.tokens.length && !StatementWords.has(peek(c) ?? '')) c.at++;
      return { kind: 'snat' };
    case 'tproxy': {
      const to = target(c, 'tproxy');
      if (to.port === undefined) return { kind: 'unknown', text: rest() };
      return { kind: 'tproxy', port: to.port, ...(to.address ? { address: to.address } : {}), ...(to.family ? { family: to.family } : {}) };
    }
    default:
      // queue, limit, quota, dup, fwd, synproxy, xt target ...: not evaluated.
      while (c.at < c.tokens.length && !StatementWords.has(peek(c) ?? '') && !MatchStarts.has(peek(c) ?? '')) c.at++;
      return { kind: 'unknown', text: rest() };
  }
}

/** Statements that start with a selector word: `meta mark set X`, `ct mark set meta mark`, `ct zone set N`. */
export function parseSetStatement(tokens: readonly string[], at: number): { action: PathAction; end: number } | null {
  const t = (i: number): string | undefined => tokens[at + i];
  if (t(0) === 'meta' && t(1) === 'mark' && t(2) === 'set') {
    if (t(3) === 'ct' && t(4) === 'mark') return { action: { kind: 'restore-mark' }, end: at + 5 };
    const value = parseNumber32(t(3) ?? '');
    return value === null ? null : { action: { kind: 'set-mark', value, mask: 0xffffffff }, end: at + 4 };
  }
  if (t(0) === 'mark' && t(1) === 'set') {
    if (t(2) === 'ct' && t(3) === 'mark') return { action: { kind: 'restore-mark' }, end: at + 4 };
    const value = parseNumber32(t(2) ?? '');
    return value === null ? null : { action: { kind: 'set-mark', value, mask: 0xffffffff }, end: at + 3 };
  }
  if (t(0) === 'ct' && t(1) === 'mark' && t(2) === 'set') {
    if ((t(3) === 'meta' && t(4) === 'mark') || t(3) === 'mark') return { action: { kind: 'save-mark' }, end: at + (t(3) === 'meta' ? 5 : 4) };
    const value = parseNumber32(t(3) ?? '');
    return value === null ? null : { action: { kind: 'set-connection-mark', value, mask: 0xffffffff }, end: at + 4 };
  }
  if (t(0) === 'ct' && t(1) === 'zone' && t(2) === 'set') {
    const zone = parseNumber32(t(3) ?? '');
    return zone === null ? null : { action: { kind: 'conntrack-zone', zone }, end: at + 4 };
  }
  return null;
}
