/**
 * Checks that an untrusted value (an AdmissionReview's `request.object`, a document of a YAML
 * file) is shaped like a Pod in the places the injector reads, and returns a copy the injector
 * may change (copy-on-write: see copyForInjection). Every malformed field is reported, with a JSON path (`.spec.containers[2].name`).
 * Fields the injector does not read are not checked: the API server validates the pod after us.
 */

import type { FieldProblem } from '../../common/errors.js';
import type { Pod } from '../kube/pod-types.js';
import { jsonPreview } from './json-preview.js';

type Problems = FieldProblem[];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The bad value as shown in a problem: bounded, whatever its size or depth (see json-preview.ts). */
const short = (value: unknown): string => jsonPreview(value);

function stringMap(value: unknown, path: string, problems: Problems): void {
  if (value === undefined || value === null) return;
  if (!isObject(value)) {
    problems.push({ source: `pod ${path}`, value: short(value), reason: 'must be a mapping of strings' });
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') problems.push({ source: `pod ${path}[${JSON.stringify(key)}]`, value: short(v), reason: 'must be a string' });
  }
}

function uidField(value: unknown, path: string, problems: Problems): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    problems.push({ source: `pod ${path}`, value: short(value), reason: 'must be a non-negative integer' });
  }
}

function namedList(value: unknown, path: string, problems: Problems, { required, checkItem }: { required: boolean; checkItem?: (item: Record<string, unknown>, itemPath: string) => void }): void {
  if (value === undefined || value === null) {
    if (required) problems.push({ source: `pod ${path}`, value: short(value), reason: 'is required (a list)' });
    return;
  }
  if (!Array.isArray(value)) {
    problems.push({ source: `pod ${path}`, value: short(value), reason: 'must be a list' });
    return;
  }
  if (required && value.length === 0) problems.push({ source: `pod ${path}`, value: '[]', reason: 'must list at least one container' });
  value.forEach((item: unknown, i) => {
    const itemPath = `${path}[${i}]`;
    if (!isObject(item)) {
      problems.push({ source: `pod ${itemPath}`, value: short(item), reason: 'must be a mapping' });
      return;
    }
    if (typeof item.name !== 'string' || item.name === '') {
      problems.push({ source: `pod ${itemPath}.name`, value: short(item.name), reason: 'must be a non-empty string' });
    }
    checkItem?.(item, itemPath);
  });
}

function container(item: Record<string, unknown>, path: string, problems: Problems): void {
  const sc = item.securityContext;
  if (sc === undefined || sc === null) return;
  if (!isObject(sc)) {
    problems.push({ source: `pod ${path}.securityContext`, value: short(sc), reason: 'must be a mapping' });
    return;
  }
  uidField(sc.runAsUser, `${path}.securityContext.runAsUser`, problems);
  uidField(sc.runAsGroup, `${path}.securityContext.runAsGroup`, problems);
}

export type ReadPodResult = { readonly ok: true; readonly pod: Pod } | { readonly ok: false; readonly problems: readonly FieldProblem[] };

export function readPod(value: unknown): ReadPodResult {
  const problems: Problems = [];
  if (!isObject(value)) return { ok: false, problems: [{ source: 'pod', value: short(value), reason: 'must be a JSON object (a Pod)' }] };
  if (value.kind !== undefined && value.kind !== 'Pod') problems.push({ source: 'pod .kind', value: short(value.kind), reason: 'must be Pod' });
  const metadata = value.metadata;
  if (metadata !== undefined && metadata !== null) {
    if (!isObject(metadata)) problems.push({ source: 'pod .metadata', value: short(metadata), reason: 'must be a mapping' });
    else {
      stringMap(metadata.labels, '.metadata.labels', problems);
      stringMap(metadata.annotations, '.metadata.annotations', problems);
      for (const key of ['name', 'generateName', 'namespace'] as const) {
        const v = metadata[key];
        if (v !== undefined && v !== null && typeof v !== 'string') problems.push({ source: `pod .metadata.${key}`, value: short(v), reason: 'must be a string' });
      }
    }
  }
  const spec = value.spec;
  if (!isObject(spec)) {
    problems.push({ source: 'pod .spec', value: short(spec), reason: 'must be a mapping (the pod spec)' });
    return { ok: false, problems };
  }
  const check = (item: Record<string, unknown>, path: string): void => container(item, path, problems);
  namedList(spec.containers, '.spec.containers', problems, { required: true, checkItem: check });
  namedList(spec.initContainers, '.spec.initContainers', problems, { required: false, checkItem: check });
  namedList(spec.volumes, '.spec.volumes', problems, { required: false });
  namedList(spec.imagePullSecrets, '.spec.imagePullSecrets', problems, { required: false });
  if (spec.hostNetwork !== undefined && spec.hostNetwork !== null && typeof spec.hostNetwork !== 'boolean') {
    problems.push({ source: 'pod .spec.hostNetwork', value: short(spec.hostNetwork), reason: 'must be true or false' });
  }
  const psc = spec.securityContext;
  if (psc !== undefined && psc !== null) {
    if (!isObject(psc)) problems.push({ source: 'pod .spec.securityContext', value: short(psc), reason: 'must be a mapping' });
    else {
      uidField(psc.runAsUser, '.spec.securityContext.runAsUser', problems);
      uidField(psc.runAsGroup, '.spec.securityContext.runAsGroup', problems);
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, pod: copyForInjection(value) };
}

/**
 * Copies exactly the objects the injector changes (the pod, its metadata and annotations, its
 * spec); lists are replaced, never edited in place, so everything else (user containers with
 * thousands of env vars) is shared with the input. Sharing keeps a huge pod's review fast: the
 * patch diff skips shared subtrees by identity. The input itself is never changed.
 */
function copyForInjection(value: Record<string, unknown>): Pod {
  const metadata = isObject(value.metadata) ? value.metadata : undefined;
  const annotations = metadata && isObject(metadata.annotations) ? metadata.annotations : undefined;
  return {
    ...value,
    ...(metadata ? { metadata: { ...metadata, ...(annotations ? { annotations: { ...annotations } } : {}) } } : {}),
    spec: { ...(value.spec as Record<string, unknown>) },
  } as Pod;
}
