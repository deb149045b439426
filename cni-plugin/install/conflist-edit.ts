/**
 * Pure edits of the node's CNI network configuration: pick the primary file, add outrigger's
 * plugin as the last entry of its `plugins` list (or update our entry in place), and remove it
 * again. Edits are splices of the original text: every byte outside our own entry stays as the
 * network plugin wrote it (key order, spacing, number spelling), so removal gives back the
 * original bytes.
 *
 * A single-plugin `.conf`/`.json` file is turned into `<base>.conflist`: a small wrapper with the
 * file's `cniVersion` and `name`, a marker key `outrigger.dev/converted-from` naming the original
 * file, and `"plugins": [<original text, verbatim>]`; the original file is removed so the
 * runtime never reads both. Removal recognises the wrapper by its exact shape and writes the
 * original file back, byte for byte, then removes the `.conflist` (runtimes ignore unknown
 * top-level keys of a conflist: libcni's ConfListFromBytes reads only the keys it knows).
 */

import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import { type JsonSpan, memberOf, ScanError, scanJson } from './json-spans.js';

/** The `type` of outrigger's chained plugin. */
export const OurPluginType = 'outrigger-cni';
/** Top-level key of a conflist outrigger made from a single-plugin `.conf`. */
export const ConvertedFromKey = 'outrigger.dev/converted-from';

/** File extensions container runtimes read, as libcni's ConfFiles lists them. */
export const ConfigExtensions = ['.conf', '.conflist', '.json'] as const;

export interface ConfigFile {
  readonly name: string;
  readonly text: string;
}

/** What to do on disk: write `write` (temp file + rename), then remove `remove`. */
export type ConfigEdit =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'write'; readonly write: ConfigFile; readonly remove?: string };

export function isConfigFileName(name: string): boolean {
  return !name.startsWith('.') && ConfigExtensions.some((ext) => name.endsWith(ext));
}

/** The file a runtime uses: the first config file by byte order of its name (Go's sort.Strings). */
export function pickPrimaryConfig(names: readonly string[]): string | undefined {
  return names.filter(isConfigFileName).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0];
}

type Parsed =
  | { readonly kind: 'list'; readonly root: JsonSpan; readonly plugins: JsonSpan & { kind: 'array' }; readonly value: Record<string, unknown> }
  | { readonly kind: 'single'; readonly root: JsonSpan; readonly value: Record<string, unknown> };

function invalid(file: string, reason: string, cause?: unknown): OutriggerError {
  return new OutriggerError(ErrorCodes.ReadFailed, `CNI config ${file} is not usable: ${reason}; nothing was written`, cause === undefined ? {} : { cause });
}

/** Parses a config file, or a ReadFailed error naming the file and what is wrong with it. */
export function parseConfigFile(file: ConfigFile): Parsed {
  let root: JsonSpan;
  let value: unknown;
  try {
    root = scanJson(file.text);
    value = JSON.parse(file.text);
  } catch (error) {
    throw invalid(file.name, `not valid JSON (${error instanceof ScanError || error instanceof SyntaxError ? error.message : String(error)})`, error);
  }
  if (root.kind !== 'object' || typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(file.name, 'not a JSON object');
  const record = value as Record<string, unknown>;
  if (file.name.endsWith('.conflist')) {
    const plugins = memberOf(root, 'plugins');
    if (!plugins || plugins.kind !== 'array') throw invalid(file.name, 'a .conflist needs a "plugins" array');
    const list = record.plugins as unknown[];
    list.forEach((plugin, i) => {
      if (typeof plugin !== 'object' || plugin === null || typeof (plugin as { type?: unknown }).type !== 'string') {
        throw invalid(file.name, `plugins[${i}] has no "type"`);
      }
    });
    return { kind: 'list', root, plugins, value: record };
  }
  if (typeof record.type !== 'string' || record.type === '') {
    throw invalid(file.name, `a single-plugin config (${file.name.slice(file.name.lastIndexOf('.'))}) needs a "type"; a plugin list belongs in a .conflist file`);
  }
  return { kind: 'single', root, value: record };
}

/** JSON with object keys sorted, to compare configs whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function isOurs(plugin: unknown): boolean {
  return typeof plugin === 'object' && plugin !== null && (plugin as { type?: unknown }).type === OurPluginType;
}

/** Leading whitespace of the line holding `offset`. */
function lineIndent(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))?.[0] ?? '';
}

/** How the file indents an element and one nesting level, read from the element itself. */
function layoutOf(text: string, element: JsonSpan | undefined, listIndent: string): { indent: string; unit: string; multiline: boolean } {
  if (!text.includes('\n')) return { indent: '', unit: '', multiline: false };
  const startsLine = element !== undefined && /^[ \t]*$/.test(text.slice(text.lastIndexOf('\n', element.start - 1) + 1, element.start));
  const base = element ? lineIndent(text, element.start) : listIndent;
  let unit = base.includes('\t') ? '\t' : '  ';
  if (element?.kind === 'object' && element.members[0]) {
    const memberIndent = lineIndent(text, element.members[0].keyStart);
    if (memberIndent.startsWith(base) && memberIndent.length > base.length) unit = memberIndent.slice(base.length);
  }
  return { indent: startsLine ? base : base + unit, unit, multiline: true };
}

function render(entry: Record<string, unknown>, layout: { indent: string; unit: string; multiline: boolean }): string {
  if (!layout.multiline) return JSON.stringify(entry);
  return JSON.stringify(entry, null, layout.unit).replaceAll('\n', `\n${layout.indent}`);
}

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

function wrapperPrefix(conf: Record<string, unknown>, originalName: string): string {
  const version = conf.cniVersion === undefined ? '' : `  "cniVersion": ${JSON.stringify(conf.cniVersion)},\n`;
  const name = typeof conf.name === 'string' ? conf.name : originalName.replace(/\.[^.]+$/, '');
  return `{\n${version}  "name": ${JSON.stringify(name)},\n  ${JSON.stringify(ConvertedFromKey)}: ${JSON.stringify(originalName)},\n  "plugins": [`;
}
const WRAPPER_SUFFIX = ']\n}\n';

export function convertedName(name: string): string {
  return `${name.replace(/\.(conf|json)$/, '')}.conflist`;
}

/** Adds (or updates in place) our plugin entry in the primary config. */
export function insertPlugin(file: ConfigFile, entry: Record<string, unknown>): ConfigEdit {
  const parsed = parseConfigFile(file);
  if (parsed.kind === 'single') {
    const wrapped = wrapperPrefix(parsed.value, file.name) + file.text + WRAPPER_SUFFIX;
    const edit = insertPlugin({ name: convertedName(file.name), text: wrapped }, entry);
    return { kind: 'write', write: edit.kind === 'write' ? edit.write : { name: convertedName(file.name), text: wrapped }, remove: file.name };
  }
  const { plugins } = parsed;
  const values = parsed.value.plugins as unknown[];
  const ours = plugins.elements.filter((_, i) => isOurs(values[i]));
  const want = canonical(entry);
  if (ours.length === 1 && canonical(values[plugins.elements.indexOf(ours[0]!)]) === want) return { kind: 'unchanged' };

  if (ours.length >= 1) {
    // Update the first of ours in place; drop any duplicates (never listed twice).
    let text = file.text;
    for (const extra of [...ours.slice(1)].reverse()) text = removeElement(text, plugins, extra);
    const first = ours[0]!;
    text = splice(text, first.start, first.end, render(entry, layoutOf(text, first, '')));
    return { kind: 'write', write: { name: file.name, text } };
  }

  const last = plugins.elements[plugins.elements.length - 1];
  if (!last) {
    const text = splice(file.text, plugins.start, plugins.end, `[${JSON.stringify(entry)}]`);
    return { kind: 'write', write: { name: file.name, text } };
  }
  const layout = layoutOf(file.text, last, lineIndent(file.text, plugins.start));
  const insert = layout.multiline ? `,\n${layout.indent}${render(entry, layout)}` : `,${render(entry, layout)}`;
  return { kind: 'write', write: { name: file.name, text: splice(file.text, last.end, last.end, insert) } };
}

/** Cuts one element out of the list with the separator that joined it to its neighbour. */
function removeElement(text: string, plugins: JsonSpan & { kind: 'array' }, element: JsonSpan): string {
  const index = plugins.elements.indexOf(element);
  const previous = plugins.elements[index - 1];
  if (previous) return splice(text, previous.end, element.end, '');
  const next = plugins.elements[index + 1];
  return splice(text, element.start, next ? next.start : element.end, '');
}

/** Whether the file holds an entry of ours (a file that does not parse holds none we can remove). */
export function containsOurPlugin(file: ConfigFile): boolean {
  try {
    const parsed = parseConfigFile(file);
    return parsed.kind === 'list' && (parsed.value.plugins as unknown[]).some(isOurs);
  } catch {
    return false;
  }
}

/** Removes every entry of ours; a wrapper we made from a `.conf` becomes that `.conf` again. */
export function removePlugin(file: ConfigFile): ConfigEdit {
  const parsed = parseConfigFile(file);
  if (parsed.kind !== 'list') return { kind: 'unchanged' };
  const values = parsed.value.plugins as unknown[];
  const ours = parsed.plugins.elements.filter((_, i) => isOurs(values[i]));
  if (ours.length === 0) return { kind: 'unchanged' };
  let text = file.text;
  for (const element of [...ours].reverse()) text = removeElement(text, parsed.plugins, element);

  const original = parsed.value[ConvertedFromKey];
  if (typeof original === 'string' && isConfigFileName(original) && !original.endsWith('.conflist') && !original.includes('/')) {
    const unwrapped = unwrap(text, original);
    if (unwrapped !== undefined) return { kind: 'write', write: { name: original, text: unwrapped }, remove: file.name };
  }
  return { kind: 'write', write: { name: file.name, text } };
}

/** The original `.conf` text inside a wrapper of exactly our shape, or undefined. */
function unwrap(text: string, originalName: string): string | undefined {
  if (!text.endsWith(WRAPPER_SUFFIX)) return undefined;
  const start = text.indexOf('"plugins": [');
  if (start < 0) return undefined;
  const inner = text.slice(start + '"plugins": ['.length, text.length - WRAPPER_SUFFIX.length);
  let conf: unknown;
  try {
    conf = JSON.parse(inner);
  } catch {
    return undefined;
  }
  if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) return undefined;
  return wrapperPrefix(conf as Record<string, unknown>, originalName) + inner + WRAPPER_SUFFIX === text ? inner : undefined;
}
