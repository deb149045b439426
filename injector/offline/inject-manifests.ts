/**
 * Offline injection over manifests: multi-document YAML or JSON (one object, or a `List`), with
 * exactly the mutation the webhook applies (reviewPod) to each Pod and each workload's pod
 * template. Other kinds pass through unchanged; YAML is edited node by node, so comments and
 * key order survive outside the injected parts.
 *
 * All or nothing: if any document is invalid or denied, nothing is output and the error names
 * every such document by index (from 1), kind and name.
 */

import { type Document, parseAllDocuments } from 'yaml';
import { type FieldProblem, invalidInput, isOutriggerError, type OutriggerError } from '../../common/errors.js';
import type { InjectorConfig } from '../config/injector-config.js';
import { reviewPod } from '../mutation/review-pod.js';
import { type SkipReason, SkipReasons } from '../mutation/skip-reasons.js';
import { applyPatchToYaml } from './yaml-patch.js';
import { type ObjectPath, podPathOf } from './workload-kinds.js';

export type ManifestFormat = 'yaml' | 'json';

export interface InjectManifestsInput {
  readonly text: string;
  readonly config: InjectorConfig;
  /** Namespace for objects that name none. */
  readonly namespace: string;
  /** Output format; default: the input's. */
  readonly output?: ManifestFormat;
  /** Names the input in messages (`deploy.yaml`, `stdin`). */
  readonly source: string;
}

export interface DocumentOutcome {
  /** 1-based position in the input. */
  readonly index: number;
  /** `Deployment web`, `ConfigMap settings`. */
  readonly object: string;
  readonly result: 'injected' | 'skipped' | 'passed through';
  readonly skipReason?: SkipReason;
}

export interface InjectManifestsResult {
  readonly text: string;
  readonly outcomes: readonly DocumentOutcome[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function getPath(value: unknown, path: ObjectPath): unknown {
  let node = value;
  for (const key of path) node = isObject(node) || Array.isArray(node) ? (node as Record<string | number, unknown>)[key] : undefined;
  return node;
}

function describeObject(value: unknown): string {
  if (!isObject(value)) return 'document';
  const kind = typeof value.kind === 'string' ? value.kind : 'object';
  const meta = isObject(value.metadata) ? value.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : typeof meta.generateName === 'string' ? `${meta.generateName}*` : '(no name)';
  return `${kind} ${name}`;
}

interface Reviewed {
  readonly outcome: DocumentOutcome;
  /** For injections: the pod path and the patch to apply under it. */
  readonly change?: { readonly path: ObjectPath; readonly patch: Parameters<typeof applyPatchToYaml>[2]; readonly pod: unknown };
}

function reviewObject(value: unknown, index: number, input: InjectManifestsInput, problems: FieldProblem[]): Reviewed {
  const object = describeObject(value);
  const passed: Reviewed = { outcome: { index, object, result: 'passed through' } };
  if (!isObject(value)) return passed;
  const path = podPathOf(value.apiVersion, value.kind);
  if (!path) return passed;
  const meta = isObject(value.metadata) ? value.metadata : {};
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : input.namespace;
  const source = `document ${index} (${object})`;
  let pod: unknown;
  if (path.length === 0) pod = value;
  else {
    const template = getPath(value, path);
    if (!isObject(template)) {
      problems.push({ source, value: '', reason: `has no pod template at .${path.join('.')}` });
      return passed;
    }
    pod = { ...(template.metadata !== undefined ? { metadata: template.metadata } : {}), spec: template.spec };
  }
  const review = reviewPod({ pod, namespace, config: input.config });
  if (review.kind === 'skip') return { outcome: { index, object, result: 'skipped', skipReason: review.reason } };
  if (review.kind === 'deny') {
    const error: OutriggerError = review.error;
    if (error.problems.length === 0) problems.push({ source, value: '', reason: error.message });
    for (const p of error.problems) problems.push({ source: `${source} ${p.source}`, value: p.value, reason: p.reason });
    return passed;
  }
  return { outcome: { index, object, result: 'injected' }, change: { path, patch: review.patch, pod: review.pod } };
}

function setPath(value: Json, path: ObjectPath, pod: unknown): void {
  if (path.length === 0) {
    for (const key of Object.keys(value)) delete value[key];
    Object.assign(value, pod);
    return;
  }
  const template = getPath(value, path) as Json;
  const injected = pod as Json;
  if (injected.metadata !== undefined) template.metadata = injected.metadata;
  template.spec = injected.spec;
}

function looksLikeJson(text: string): boolean {
  const first = text.trimStart()[0];
  return first === '{' || first === '[';
}

function injectJson(input: InjectManifestsInput): InjectManifestsResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(input.text);
  } catch (error) {
    throw invalidInput([{ source: input.source, value: '', reason: `not valid JSON: ${error instanceof Error ? error.message : String(error)}` }], 'manifests');
  }
  const isList = isObject(parsed) && Array.isArray(parsed.items) && typeof parsed.kind === 'string' && parsed.kind.endsWith('List');
  const items: unknown[] = isList ? (parsed as { items: unknown[] }).items : Array.isArray(parsed) ? parsed : [parsed];
  const problems: FieldProblem[] = [];
  const reviewed = items.map((item, i) => reviewObject(item, i + 1, input, problems));
  if (problems.length > 0) throw invalidInput(problems, `manifests in ${input.source}`);
  reviewed.forEach((r, i) => {
    if (r.change) setPath(items[i] as Json, r.change.path, r.change.pod);
  });
  const output = input.output ?? 'json';
  const text = output === 'json' ? `${JSON.stringify(parsed, null, 2)}\n` : toYamlDocuments(items);
  return { text, outcomes: reviewed.map((r) => r.outcome) };
}

function toYamlDocuments(items: readonly unknown[]): string {
  // Plain objects to YAML without a Document per item from source: format only.
  return items
    .map((item) => {
      const doc = parseAllDocuments(JSON.stringify(item))[0] as Document;
      return doc.toString({ lineWidth: 0 });
    })
    .join('---\n');
}

function injectYaml(input: InjectManifestsInput): InjectManifestsResult {
  const docs = parseAllDocuments(input.text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const problems: FieldProblem[] = [];
  const values = list.map((doc, i) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push({ source: `${input.source} document ${i + 1}`, value: '', reason: `not valid YAML: ${e.message.split('\n')[0]}` });
      return undefined;
    }
    try {
      return doc.toJS({ maxAliasCount: 100 }) as unknown;
    } catch (error) {
      problems.push({ source: `${input.source} document ${i + 1}`, value: '', reason: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
  });
  if (problems.length > 0) throw invalidInput(problems, `manifests in ${input.source}`);
  const reviewed = values.map((value, i) => reviewObject(value, i + 1, input, problems));
  if (problems.length > 0) throw invalidInput(problems, `manifests in ${input.source}`);

  // Trailing empty documents (a final `---`) carry nothing.
  let last = list.length;
  const isEmpty = (i: number): boolean => {
    const doc = list[i] as Document;
    return (values[i] === null || values[i] === undefined) && !doc.comment && !doc.commentBefore;
  };
  while (last > 0 && isEmpty(last - 1)) last--;

  if (input.output === 'json') {
    const items = values.slice(0, last).map((value, i) => {
      const r = reviewed[i] as Reviewed;
      if (r.change && isObject(value)) setPath(value, r.change.path, r.change.pod);
      return value;
    });
    const text = items.length === 1 ? JSON.stringify(items[0], null, 2) : JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 2);
    return { text: `${text}\n`, outcomes: reviewed.slice(0, last).map((r) => r.outcome) };
  }
  const parts = list.slice(0, last).map((doc, i) => {
    const r = reviewed[i] as Reviewed;
    if (r.change) applyPatchToYaml(doc, r.change.path, r.change.patch);
    const text = doc.toString({ lineWidth: 0 });
    return i > 0 && !text.startsWith('---') ? `---\n${text}` : text;
  });
  return { text: parts.join(''), outcomes: reviewed.slice(0, last).map((r) => r.outcome) };
}

/** Injects every pod and pod template in the manifests; throws one InvalidInput naming every bad document. */
export function injectManifests(input: InjectManifestsInput): InjectManifestsResult {
  try {
    return looksLikeJson(input.text) ? injectJson(input) : injectYaml(input);
  } catch (error) {
    if (isOutriggerError(error)) throw error;
    throw invalidInput([{ source: input.source, value: '', reason: error instanceof Error ? error.message : String(error) }], 'manifests');
  }
}

/** One line per document that was not injected for a reason (for stderr). */
export function describeOutcome(outcome: DocumentOutcome): string {
  const reason = outcome.skipReason ? `: ${SkipReasons[outcome.skipReason]}` : '';
  return `document ${outcome.index} (${outcome.object}): ${outcome.result}${reason}`;
}
