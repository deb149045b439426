/**
 * Checks a configured `proxy.bootstrapOverride` the only way that means anything: the bootstrap
 * pods would get, i.e. the generated one with the override merged in, for every interception mode
 * (pods choose theirs by annotation), against Envoy's v3 API (the compact schema, checked by
 * proto-json-check.ts: unknown fields, types, enums, oneofs, Any by @type, PGV rules). A typo there
 * would otherwise surface only as every newly injected proxy failing to start.
 *
 * Each violation is reported under `.proxy.bootstrapOverride...` when it lies in what the override
 * wrote (or in a part of the bootstrap the override supplied whole, such as a replaced list or an
 * added listener; in the lists merged by name, with the override's own index), and otherwise by
 * its path in the merged bootstrap. Deprecated fields are not refused (Envoy only
 * warns). What it cannot prove: see proto-json-check.ts and README (no Envoy runs here).
 */

import { type InterceptionMode, InterceptionModes } from '../../capture/capture-config.js';
import type { ProxyPorts } from '../config/injector-config.js';
import { EnvoyBootstrapType, type EnvoySchema } from './envoy-schema.js';
import { buildEnvoyBootstrap, NamedLists } from './envoy-bootstrap.js';
import { checkProtoJson, childPath } from './proto-json-check.js';

export interface OverrideViolation {
  /** `.proxy.bootstrapOverride.static_resources.listeners[4].name`, or `.proxy.bootstrapOverride` for a merged-bootstrap path. */
  readonly path: string;
  /** The override's value at that path (undefined when the field is absent). */
  readonly value: unknown;
  readonly reason: string;
}

const OverridePath = '.proxy.bootstrapOverride';

export function checkBootstrapOverride(override: Readonly<Record<string, unknown>>, ports: ProxyPorts, schema: EnvoySchema): OverrideViolation[] {
  // Each mode's generated and merged bootstrap, built once: checked here, then walked to place each violation.
  const built = new Map(InterceptionModes.map((interceptionMode) => [interceptionMode, {
    generated: buildEnvoyBootstrap({ ports, interceptionMode }),
    merged: buildEnvoyBootstrap({ ports, interceptionMode, override }),
  }]));
  const found = new Map<string, { path: string; message: string; modes: InterceptionMode[] }>();
  for (const [interceptionMode, { merged }] of built) {
    for (const v of checkProtoJson(merged, schema, EnvoyBootstrapType).violations) {
      const key = `${v.path}\n${v.message}`;
      const seen = found.get(key);
      if (seen) seen.modes.push(interceptionMode);
      else found.set(key, { ...v, modes: [interceptionMode] });
    }
  }
  return [...found.values()].map(({ path, message, modes }) => {
    const modeNote = modes.length === InterceptionModes.length ? '' : ` (with ${modes.join(', ')} interception)`;
    const { generated, merged } = built.get(modes[0]!)!;
    const located = locateInOverride(parseJsonPath(path), override, generated, merged);
    if (located.inOverride) return { path: `${OverridePath}${formatPath(located.path)}`, value: located.value, reason: `${message}${modeNote}` };
    return { path: OverridePath, value: undefined, reason: `in the merged bootstrap at ${path}: ${message}${modeNote}` };
  });
}

type Segment = string | number;

/** `$.a.b[0]["@type"]` (as proto-json-check.ts writes paths) -> ['a', 'b', 0, '@type']. */
export function parseJsonPath(path: string): Segment[] {
  const segments: Segment[] = [];
  for (const match of path.slice(1).matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
    if (match[1] !== undefined) segments.push(match[1]);
    else if (match[2] !== undefined) segments.push(Number(match[2]));
    else segments.push(JSON.parse(match[3]!) as string);
  }
  return segments;
}

const formatPath = (segments: readonly Segment[]): string => segments.reduce<string>((path, segment) => childPath(path, segment), '');

const nameOf = (entry: unknown): unknown => (typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? (entry as Record<string, unknown>).name : undefined);

/** Whether segment i indexes a list the override merges into by name (`static_resources.listeners[i]`). */
function indexesNamedList(segments: readonly Segment[], i: number): boolean {
  const [parent, list] = [segments[i - 2], segments[i - 1]];
  return i === 2 && typeof parent === 'string' && typeof list === 'string' && (NamedLists.get(parent)?.includes(list) ?? false);
}

/**
 * Whether a merged-bootstrap path lies in the override, and its path there: every step is in it,
 * or the steps that are not hang below a part the override supplied whole (a list it replaced, a
 * listener it added, a key the generated bootstrap does not have), as with a required field
 * missing from a listener it added. In the lists merged by name, an entry of the merged bootstrap
 * is found in the override by its name, so the path names the override's own index.
 */
function locateInOverride(segments: readonly Segment[], override: unknown, generated: unknown, merged: unknown): { inOverride: boolean; path: Segment[]; value?: unknown } {
  let node: unknown = override;
  let base: unknown = generated;
  let full: unknown = merged;
  let owned = false;
  const path: Segment[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (typeof segment === 'number' && indexesNamedList(segments, i)) {
      const name = nameOf(child(full, segment));
      const at = Array.isArray(node) && name !== undefined ? node.findIndex((entry) => nameOf(entry) === name) : -1;
      if (at === -1) return { inOverride: false, path }; // a generated entry the override leaves alone
      node = (node as unknown[])[at];
      full = child(full, segment);
      base = Array.isArray(base) ? base.find((entry) => nameOf(entry) === name) : undefined;
      if (base === undefined) owned = true; // an entry the override added
      path.push(at);
      continue;
    }
    const next = child(node, segment);
    if (next === undefined) return { inOverride: owned, path: [...path, ...segments.slice(i)] };
    if (Array.isArray(node)) owned = true;
    base = child(base, segment);
    full = child(full, segment);
    if (base === undefined) owned = true;
    node = next;
    path.push(segment);
  }
  return { inOverride: true, path, value: node };
}

function child(node: unknown, segment: Segment): unknown {
  if (typeof segment === 'number') return Array.isArray(node) ? node[segment] : undefined;
  return typeof node === 'object' && node !== null && !Array.isArray(node) && Object.hasOwn(node, segment) ? (node as Record<string, unknown>)[segment] : undefined;
}
