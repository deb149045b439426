/**
 * Offline injection over manifests: multi-document YAML or JSON (one object, or a `List`), with
 * exactly the mutation the webhook applies (reviewPod) to each Pod and each workload's pod
 * template, also inside a `kind: List` in either format. Other kinds pass through unchanged; YAML
 * is edited node by node, so comments and key order survive outside the injected parts. A YAML
 * stream of documents written as JSON (`{...}\n---\n{...}`) is read as YAML and each such document
 * written back as JSON (there are no comments to keep).
 *
 * All or nothing: if any document is invalid or denied, nothing is output and the error names
 * every such document by index (from 1), kind and name.
 */

import { type Document, isMap, isSeq, parseAllDocuments, stringify } from 'yaml';
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
  /** 1-based position of the document in the input. */
  readonly index: number;
  /** 1-based position in the document's List, for a List's items. */
  readonly item?: number;
  /** `Deployment web`, `ConfigMap settings`. */
  readonly object: string;
  readonly result: 'injected' | 'skipped' | 'passed through';
  readonly skipReason?: SkipReason;
  /** reviewPod's warnings: settings accepted but not followed as written. */
  readonly warnings: readonly string[];
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
  /** For injections: where the object is in its document, its pod path, and the patch to apply under it. */
  readonly change?: { readonly at: ObjectPath; readonly path: ObjectPath; readonly patch: Parameters<typeof applyPatchToYaml>[2]; readonly pod: unknown };
}

/** One object of a document: the document itself, or an item of a List in it. */
interface Place {
  readonly index: number;
  /** 1-based position in the document's List; absent for the document itself. */
  readonly item?: number;
  /** Where the object is in the document (`['items', 2]`, or `[]`). */
  readonly at: ObjectPath;
}

function placeName(place: Pick<Place, 'index' | 'item'>, object: string): string {
  return `document ${place.index}${place.item === undefined ? '' : ` item ${place.item}`} (${object})`;
}

function reviewObject(value: unknown, place: Place, input: InjectManifestsInput, problems: FieldProblem[]): Reviewed {
  const object = describeObject(value);
  const where = { index: place.index, ...(place.item === undefined ? {} : { item: place.item }), object };
  const passed: Reviewed = { outcome: { ...where, result: 'passed through', warnings: [] } };
  if (!isObject(value)) return passed;
  const path = podPathOf(value.apiVersion, value.kind);
  if (!path) return passed;
  const meta = isObject(value.metadata) ? value.metadata : {};
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : input.namespace;
  const source = placeName(place, object);
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
  if (review.kind === 'skip') return { outcome: { ...where, result: 'skipped', skipReason: review.reason, warnings: review.warnings } };
  if (review.kind === 'deny') {
    const error: OutriggerError = review.error;
    if (error.problems.length === 0) problems.push({ source, value: '', reason: error.message });
    for (const p of error.problems) problems.push({ source: `${source} ${p.source}`, value: p.value, reason: p.reason });
    return passed;
  }
  return { outcome: { ...where, result: 'injected', warnings: review.warnings }, change: { at: place.at, path, patch: review.patch, pod: review.pod } };
}

/** A `kind: List` (`v1` List, or any `*List` with items), whose items are reviewed one by one. */
function isList(value: unknown): value is Json & { items: unknown[] } {
  return isObject(value) && Array.isArray(value.items) && typeof value.kind === 'string' && value.kind.endsWith('List');
}

/** Every object of one document: its List's items (a bare JSON array's elements), or itself. */
function reviewDocument(value: unknown, index: number, input: InjectManifestsInput, problems: FieldProblem[]): Reviewed[] {
  if (isList(value)) return value.items.map((item, i) => reviewObject(item, { index, item: i + 1, at: ['items', i] }, input, problems));
  if (Array.isArray(value)) return value.map((item, i) => reviewObject(item, { index, item: i + 1, at: [i] }, input, problems));
  return [reviewObject(value, { index, at: [] }, input, problems)];
}

/** Puts an injected pod into the (parsed) document at its place. */
function applyChange(document: unknown, change: NonNullable<Reviewed['change']>): void {
  const value = getPath(document, change.at) as Json;
  const { path, pod } = change;
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

function jsonError(error: unknown): string {
  return `not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
}

function injectJson(parsed: unknown, input: InjectManifestsInput): InjectManifestsResult {
  const problems: FieldProblem[] = [];
  const reviewed = reviewDocument(parsed, 1, input, problems);
  if (problems.length > 0) throw invalidInput(problems, `manifests in ${input.source}`);
  for (const r of reviewed) if (r.change) applyChange(parsed, r.change);
  const output = input.output ?? 'json';
  const items = isList(parsed) ? parsed.items : Array.isArray(parsed) ? parsed : [parsed];
  const text = output === 'json' ? `${JSON.stringify(parsed, null, 2)}\n` : toYamlDocuments(items);
  return { text, outcomes: reviewed.map((r) => r.outcome) };
}

/** Plain values as block-style YAML documents (no source to keep: format only). */
function toYamlDocuments(items: readonly unknown[]): string {
  return items.map((item) => stringify(item, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}

/** A document written as JSON (a flow mapping or sequence at its root), e.g. in a `{...}\n---\n{...}` stream. */
function writtenAsJson(doc: Document): boolean {
  return (isMap(doc.contents) || isSeq(doc.contents)) && doc.contents.flow === true;
}

function injectYaml(input: InjectManifestsInput, docs: readonly Document[]): InjectManifestsResult {
  const problems: FieldProblem[] = [];
  const values = docs.map((doc, i) => {
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
  const reviewed = values.map((value, i) => reviewDocument(value, i + 1, input, problems));
  if (problems.length > 0) throw invalidInput(problems, `manifests in ${input.source}`);

  // Trailing empty documents (a final `---`) carry nothing.
  let last = docs.length;
  const isEmpty = (i: number): boolean => {
    const doc = docs[i] as Document;
    return (values[i] === null || values[i] === undefined) && !doc.comment && !doc.commentBefore;
  };
  while (last > 0 && isEmpty(last - 1)) last--;
  const outcomes = reviewed.slice(0, last).flat().map((r) => r.outcome);

  if (input.output === 'json') {
    const items = values.slice(0, last).flatMap((value, i) => {
      for (const r of reviewed[i] ?? []) if (r.change) applyChange(value, r.change);
      // A List document's items join the output List as they are.
      return isList(value) ? value.items : [value];
    });
    const text = items.length === 1 && !isList(values[0]) ? JSON.stringify(items[0], null, 2) : JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 2);
    return { text: `${text}\n`, outcomes };
  }
  const parts = docs.slice(0, last).map((doc, i) => {
    const changes = (reviewed[i] ?? []).flatMap((r) => (r.change ? [r.change] : []));
    let text: string;
    if (writtenAsJson(doc)) {
      // JSON carries no comments to keep: the document is written again, as JSON unless YAML was asked for.
      const value = values[i];
      for (const change of changes) applyChange(value, change);
      text = input.output === 'yaml' ? toYamlDocuments([value]) : `${JSON.stringify(value, null, 2)}\n`;
    } else {
      for (const change of changes) applyPatchToYaml(doc, [...change.at, ...change.path], change.patch);
      text = doc.toString({ lineWidth: 0 });
    }
    return i > 0 && !text.startsWith('---') ? `---\n${text}` : text;
  });
  return { text: parts.join(''), outcomes };
}

/**
 * Text that is one JSON value is read as JSON; anything else (YAML, or a YAML stream of documents
 * written as JSON: `{...}\n---\n{...}`) as a YAML stream. A lone JSON document that does not parse
 * is reported with the JSON parser's message.
 */
function injectText(input: InjectManifestsInput): InjectManifestsResult {
  let jsonFailure: unknown;
  if (looksLikeJson(input.text)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(input.text);
    } catch (error) {
      jsonFailure = error;
    }
    if (jsonFailure === undefined) return injectJson(parsed, input);
  }
  const docs = parseAllDocuments(input.text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  if (jsonFailure !== undefined && list.length <= 1 && list.some((d) => d.errors.length > 0)) {
    throw invalidInput([{ source: input.source, value: '', reason: jsonError(jsonFailure) }], 'manifests');
  }
  return injectYaml(input, list);
}

/** Injects every pod and pod template in the manifests; throws one InvalidInput naming every bad document. */
export function injectManifests(input: InjectManifestsInput): InjectManifestsResult {
  try {
    return injectText(input);
  } catch (error) {
    if (isOutriggerError(error)) throw error;
    throw invalidInput([{ source: input.source, value: '', reason: error instanceof Error ? error.message : String(error) }], 'manifests');
  }
}

/** One line per document that was not injected for a reason (for stderr). */
export function describeOutcome(outcome: DocumentOutcome): string {
  const reason = outcome.skipReason ? `: ${SkipReasons[outcome.skipReason]}` : '';
  return `${placeName(outcome, outcome.object)}: ${outcome.result}${reason}`;
}

/** One line per warning of the object (for stderr). */
export function describeWarnings(outcome: DocumentOutcome): string[] {
  return outcome.warnings.map((w) => `${placeName(outcome, outcome.object)}: warning: ${w}`);
}
