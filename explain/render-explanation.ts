/**
 * An explanation as text for people (the path hook by hook: each table and chain entered, each
 * rule that matched with outrigger's purpose or the rule as written, then the verdict, what to
 * change, what was assumed and what could not be evaluated) and as JSON for tools (the same
 * content as data; `verdict.kind` and `certain` are the fields to branch on). Also the one-line
 * form the whole-pod summary uses. Deterministic.
 */

import { RulePurposes } from '../capture/rule-purposes.js';
import { describeConnection } from './connection.js';
import type { Explanation } from './explain-connection.js';
import type { PathStep, RuleRef } from './follow-packet.js';
import type { PathTable } from './path-model.js';
import { type Verdict } from './verdict.js';

const HookTitles: Readonly<Record<string, string>> = {
  'output outbound': 'output hook: the app sends the packet',
  'postrouting outbound': 'postrouting hook',
  'prerouting loopback': 'prerouting hook: the packet comes back in over lo',
  'input loopback': 'input hook: delivered in the pod',
  'prerouting inbound': 'prerouting hook: the packet arrives',
  'input inbound': 'input hook: delivered in the pod',
  'forward inbound': 'forward hook',
  'postrouting inbound': 'postrouting hook',
};

function tableLabel(table: PathTable): string {
  return table.nftFamily ? `${table.nftFamily} ${table.name}` : table.name;
}

function sourceLabel(table: PathTable): string {
  return table.source === 'plan' ? (table.nftFamily ? 'planned, nftables' : 'planned, iptables') : table.source;
}

function ruleText(ref: RuleRef): string {
  const line = ref.rule.origin.line !== undefined ? ` (line ${ref.rule.origin.line})` : '';
  return ref.rule.purpose ? `outrigger/${ref.rule.purpose}${line}` : `${ref.rule.origin.text}${line}`;
}

function stepLines(step: PathStep): string[] {
  switch (step.kind) {
    case 'hook':
      return ['', HookTitles[`${step.hook} ${step.pass}`] ?? `${step.hook} hook`];
    case 'enter': {
      const base = step.base ? ` (${sourceLabel(step.table)}, priority ${step.base.priority}, policy ${step.base.policy})` : '';
      return [`  ${tableLabel(step.table)} ${step.chain}${base}`];
    }
    case 'rule': {
      const lines = [`    #${step.ref.index} ${ruleText(step.ref)} → ${step.effect}`];
      if (step.ref.rule.purpose) lines.push(`        ${RulePurposes[step.ref.rule.purpose].explain}`);
      else lines.push(`        not a rule outrigger planned${step.ref.rule.unknown.length > 0 ? `; not evaluated: ${step.ref.rule.unknown.join('; ')}` : ''}`);
      return lines;
    }
    case 'end':
      return [`    ${step.effect}`];
    case 'skip':
      return [`  ${tableLabel(step.table)} ${step.chain}: skipped (${step.reason})`];
  }
}

function verdictLines(verdict: Verdict): string[] {
  const lines = [`verdict: ${verdict.words}`];
  if (verdict.decidedBy) lines.push(`  decided by ${ruleText(verdict.decidedBy)} in ${verdict.decidedBy.table} ${verdict.decidedBy.chain}`);
  for (const change of verdict.change) lines.push(`  ${change}`);
  return lines;
}

export function renderExplanationText(e: Explanation): string {
  const lines: string[] = [`${describeConnection(e.connection)} (IPv${e.family})`];
  for (const input of e.inputs) lines.push(`rules: ${input}`);
  const steps = e.run.steps;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as PathStep;
    const following = steps[i + 1];
    // A hook where the rules have no chain at all says nothing.
    if (step.kind === 'hook' && (following === undefined || following.kind === 'hook')) continue;
    // A base chain where nothing matched: one line.
    if (step.kind === 'enter' && step.base && following?.kind === 'end' && following.chain === step.chain && following.table === step.table) {
      lines.push(`  ${tableLabel(step.table)} ${step.chain} (${sourceLabel(step.table)}, priority ${step.base.priority}): no rule matched, policy ${step.base.policy}`);
      i++;
      continue;
    }
    lines.push(...stepLines(step));
  }
  lines.push('');
  if (!e.certain) lines.push(`uncertain: ${e.uncertainty.join('; ')}`);
  lines.push(...verdictLines(e.verdict));
  for (const alternative of e.alternatives) {
    const assuming = alternative.assuming.map((a) => ruleText(a.ref)).join(' and ');
    lines.push(`  if ${assuming} ${alternative.assuming.length === 1 ? 'matches' : 'match'}: ${alternative.verdict.words}`);
  }
  if (e.unevaluated.length > 0) {
    lines.push(e.certain ? 'not evaluated (the verdict is the same either way):' : 'not evaluated:');
    for (const { ref, reason } of e.unevaluated) lines.push(`  ${ruleText(ref)} in ${ref.table} ${ref.chain}: ${reason}`);
  }
  const assumed = e.run.assumptions;
  if (assumed.length > 0) lines.push(`assumed: ${assumed.join('; ')}`);
  for (const note of e.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}

function ruleJson(ref: RuleRef): Record<string, unknown> {
  return {
    source: ref.source,
    table: ref.table,
    ...(ref.nftFamily ? { nftFamily: ref.nftFamily } : {}),
    chain: ref.chain,
    index: ref.index,
    ...(ref.rule.origin.line !== undefined ? { line: ref.rule.origin.line } : {}),
    text: ref.rule.origin.text,
    ours: ref.rule.purpose !== undefined,
    ...(ref.rule.purpose ? { purpose: ref.rule.purpose, explain: RulePurposes[ref.rule.purpose].explain } : {}),
    ...(ref.rule.unknown.length > 0 ? { notEvaluated: ref.rule.unknown } : {}),
  };
}

function stepJson(step: PathStep): Record<string, unknown> {
  switch (step.kind) {
    case 'hook': return { hook: step.hook, pass: step.pass };
    case 'enter': return { enter: { source: step.table.source, table: step.table.name, ...(step.table.nftFamily ? { nftFamily: step.table.nftFamily } : {}), chain: step.chain, ...(step.base ? { priority: step.base.priority, policy: step.base.policy } : {}) } };
    case 'rule': return { rule: ruleJson(step.ref), effect: step.effect, ...(step.assumed !== undefined ? { assumed: step.assumed } : {}) };
    case 'end': return { end: { table: step.table.name, chain: step.chain }, effect: step.effect };
    case 'skip': return { skip: { table: step.table.name, chain: step.chain }, reason: step.reason };
  }
}

function verdictJson(v: Verdict): Record<string, unknown> {
  return { kind: v.kind, words: v.words, ...(v.listener ? { listener: v.listener } : {}), ...(v.decidedBy ? { decidedBy: ruleJson(v.decidedBy) } : {}), change: v.change };
}

export function explanationJson(e: Explanation): Record<string, unknown> {
  return {
    connection: { ...e.connection, family: e.family },
    inputs: e.inputs,
    path: e.run.steps.map(stepJson),
    verdict: verdictJson(e.verdict),
    certain: e.certain,
    uncertainty: e.uncertainty,
    alternatives: e.alternatives.map((a) => ({ assuming: a.assuming.map((x) => ({ rule: ruleJson(x.ref), reason: x.reason })), verdict: verdictJson(a.verdict) })),
    unevaluated: e.unevaluated.map((u) => ({ rule: ruleJson(u.ref), reason: u.reason })),
    assumptions: e.run.assumptions,
    notes: e.notes,
  };
}

/** One line: `inbound tcp to 10.0.0.5:8080 ...: captured: ...` (with `(uncertain)` when it is). */
export function explanationLine(label: string, e: Explanation): string {
  return `${label}: ${e.certain ? '' : '(uncertain) '}${e.verdict.words}`;
}
