/**
 * The iptables renderer: a family's rules as iptables-restore input. Tables in a fixed order, each
 * table's own chains declared (`:NAME - [0:0]`, which under --noflush also empties an existing
 * chain) before any rule, rules in plan order with an `outrigger/<purpose>` comment. A rule is
 * written as iptables-save prints it back: header options first (-s, -d, -i, -o, -p), then the
 * matches (ports, owner, mark, connmark, conntrack), the comment, the target. Deterministic, so
 * the same plan always renders to the same bytes and the same fingerprint.
 */

import { fingerprint } from './fingerprint.js';
import { type Action, declaredChains, type FamilyPlan, type MatchTerm, type Rule, tablesOf } from './rule.js';

export const CommentPrefix = 'outrigger/';
/** The rule that carries the plan's fingerprint (present in every plan): nat OUTPUT's jump. */
const FingerprintPurpose = 'capture-outbound';

export function quoteToken(token: string): string {
  return /^[A-Za-z0-9_.:/,!*+=@-]+$/.test(token) ? token : `"${token.replace(/(["\\])/g, '\\$1')}"`;
}

/** Whether this rule carries the plan's fingerprint in its comment (both backends use the same rule). */
export function carriesFingerprint(rule: Rule): boolean {
  return rule.purpose === FingerprintPurpose && rule.chain === 'OUTPUT' && rule.table === 'nat';
}

export function ruleComment(rule: Rule, planFingerprint?: string): string {
  const base = `${CommentPrefix}${rule.purpose}`;
  return planFingerprint && carriesFingerprint(rule) ? `${base} plan=${planFingerprint}` : base;
}

const not = (negate: boolean): string[] => (negate ? ['!'] : []);

/** The match tokens of a rule, in iptables-save's order. */
export function iptablesMatches(match: readonly MatchTerm[]): string[] {
  const header: Record<'-s' | '-d' | '-i' | '-o' | '-p', string[]> = { '-s': [], '-d': [], '-i': [], '-o': [], '-p': [] };
  const ports: string[] = [];
  const owners: string[] = [];
  const marks: string[] = [];
  const connmarks: string[] = [];
  const states: string[] = [];
  for (const term of match) {
    switch (term.kind) {
      case 'in-interface': header['-i'] = ['-i', term.name]; break;
      case 'out-interface': header['-o'] = ['-o', term.name]; break;
      case 'protocol': header['-p'] = ['-p', term.protocol]; break;
      case 'source': header['-s'] = [...not(term.negate), '-s', term.cidr]; break;
      case 'destination': header['-d'] = [...not(term.negate), '-d', term.cidr]; break;
      case 'source-port':
      case 'destination-port': {
        if (header['-p'].length === 0) header['-p'] = ['-p', term.protocol];
        const option = term.kind === 'source-port' ? '--sport' : '--dport';
        if (term.ports.length === 1) ports.push(...not(term.negate), option, String(term.ports[0]));
        else ports.push('-m', 'multiport', ...not(term.negate), `${option}s`, term.ports.join(','));
        break;
      }
      case 'owner': owners.push('-m', 'owner', ...not(term.negate), term.by === 'uid' ? '--uid-owner' : '--gid-owner', term.id); break;
      case 'mark': marks.push('-m', 'mark', ...not(term.negate), '--mark', String(term.mark)); break;
      case 'connection-mark': connmarks.push('-m', 'connmark', '--mark', String(term.mark)); break;
      case 'conntrack-state': states.push('-m', 'conntrack', '--ctstate', term.states.join(',')); break;
    }
  }
  return [...header['-s'], ...header['-d'], ...header['-i'], ...header['-o'], ...header['-p'], ...ports, ...owners, ...marks, ...connmarks, ...states];
}

export function iptablesTarget(action: Action): string[] {
  switch (action.kind) {
    case 'return': return ['-j', 'RETURN'];
    case 'accept': return ['-j', 'ACCEPT'];
    case 'drop': return ['-j', 'DROP'];
    case 'jump': return ['-j', action.chain];
    case 'redirect': return ['-j', 'REDIRECT', '--to-ports', String(action.port)];
    case 'tproxy': return ['-j', 'TPROXY', '--tproxy-mark', `${action.mark}/0xffffffff`, '--on-port', String(action.port)];
    case 'set-mark': return ['-j', 'MARK', '--set-mark', String(action.mark)];
    case 'save-mark': return ['-j', 'CONNMARK', '--save-mark'];
    case 'restore-mark': return ['-j', 'CONNMARK', '--restore-mark'];
    case 'conntrack-zone': return ['-j', 'CT', '--zone', String(action.zone)];
  }
}

/** A rule's tokens after `-A CHAIN` / `-I CHAIN N`, with its comment (iptables-save's order). */
export function ruleTokens(rule: Rule, planFingerprint?: string): string[] {
  return [...iptablesMatches(rule.match), '-m', 'comment', '--comment', ruleComment(rule, planFingerprint), ...iptablesTarget(rule.action)];
}

export function renderRule(rule: Rule, planFingerprint?: string): string {
  const op = rule.insertAt === undefined ? `-A ${rule.chain}` : `-I ${rule.chain} ${rule.insertAt}`;
  return [op, ...ruleTokens(rule, planFingerprint).map(quoteToken)].join(' ');
}

/** The plan's fingerprint: a hash of its rules, independent of comments. */
export function planFingerprint(plan: FamilyPlan): string {
  return fingerprint(plan.rules.map((r) => `${r.table} ${r.chain} ${r.insertAt ?? 'A'} ${[...iptablesMatches(r.match), ...iptablesTarget(r.action)].join(' ')}`).join('\n'));
}

/** iptables-restore input that creates this plan in a namespace that has none of our rules. */
export function renderRestore(plan: FamilyPlan): string {
  const fp = planFingerprint(plan);
  const chains = declaredChains(plan.rules);
  const lines: string[] = [];
  for (const table of tablesOf(plan.rules)) {
    lines.push(`*${table}`);
    for (const chain of chains.get(table) ?? []) lines.push(`:${chain} - [0:0]`);
    for (const rule of plan.rules) if (rule.table === table) lines.push(renderRule(rule, fp));
    lines.push('COMMIT');
  }
  return `${lines.join('\n')}\n`;
}
