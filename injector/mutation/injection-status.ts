/**
 * `sidecar.istio.io/status`: what an injection added, in Istio's JSON shape
 * (`{"initContainers":[...],"containers":[...],"volumes":[...],"imagePullSecrets":[...],"revision":"..."}`,
 * empty lists as null, as Istio writes them). Stripping what a status lists gives back the pod
 * as it was before injection, so re-injection (reinvocationPolicy IfNeeded, `outrigger inject`
 * over injected manifests, or a pod injected by Istio) ends in the same pod.
 */

import type { FieldProblem } from '../../common/errors.js';
import { CaptureSettingsAnnotation } from '../../capture/pod-annotations.js';
import type { Pod } from '../kube/pod-types.js';
import { InjectorAnnotations } from './pod-annotations.js';

export interface InjectionStatus {
  readonly initContainers: readonly string[];
  readonly containers: readonly string[];
  readonly volumes: readonly string[];
  readonly imagePullSecrets: readonly string[];
  readonly revision: string;
}

const StatusLists = ['initContainers', 'containers', 'volumes', 'imagePullSecrets'] as const;

export function encodeInjectionStatus(status: InjectionStatus): string {
  const list = (items: readonly string[]): readonly string[] | null => (items.length > 0 ? items : null);
  return JSON.stringify({
    initContainers: list(status.initContainers),
    containers: list(status.containers),
    volumes: list(status.volumes),
    imagePullSecrets: list(status.imagePullSecrets),
    revision: status.revision,
  });
}

export type DecodedStatus = { readonly ok: true; readonly status: InjectionStatus } | { readonly ok: false; readonly problem: FieldProblem };

export function decodeInjectionStatus(text: string): DecodedStatus {
  const fail = (reason: string): DecodedStatus => ({ ok: false, problem: { source: `annotation ${InjectorAnnotations.status}`, value: text, reason } });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail('not JSON; remove the annotation or restore what the injector wrote');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('must be a JSON object');
  const record = parsed as Record<string, unknown>;
  const lists: Record<(typeof StatusLists)[number], string[]> = { initContainers: [], containers: [], volumes: [], imagePullSecrets: [] };
  for (const key of StatusLists) {
    const value = record[key];
    if (value === undefined || value === null) continue;
    if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) return fail(`.${key} must be a list of names or null`);
    lists[key] = value;
  }
  const revision = typeof record.revision === 'string' ? record.revision : '';
  return { ok: true, status: { ...lists, revision } };
}

/**
 * Removes named items from a list field; drops the field when it becomes empty. One pass over the
 * list with the names in a Set: linear in both, however many the pod and the status list.
 */
function removeNamed<K extends 'initContainers' | 'containers' | 'volumes' | 'imagePullSecrets'>(spec: Pod['spec'], key: K, names: readonly string[]): void {
  const items = spec[key] as { name: string }[] | undefined;
  if (!items || names.length === 0) return;
  const stripped = new Set(names);
  const kept = items.filter((item) => !stripped.has(item.name));
  if (kept.length === items.length) return;
  if (kept.length === 0 && key !== 'containers') delete spec[key];
  else (spec as Record<string, unknown>)[key] = kept;
}

/**
 * Strips a previous injection from `pod` (changed in place): the items its status lists, the
 * status itself and outrigger's capture-settings annotation. Returns a problem when the status
 * annotation cannot be read (the pod is then left as it was).
 */
export function stripInjection(pod: Pod): FieldProblem | undefined {
  const annotations = pod.metadata?.annotations;
  const text = annotations?.[InjectorAnnotations.status];
  if (annotations === undefined || text === undefined) return undefined;
  const decoded = decodeInjectionStatus(text);
  if (!decoded.ok) return decoded.problem;
  const { status } = decoded;
  removeNamed(pod.spec, 'initContainers', status.initContainers);
  removeNamed(pod.spec, 'containers', status.containers);
  removeNamed(pod.spec, 'volumes', status.volumes);
  removeNamed(pod.spec, 'imagePullSecrets', status.imagePullSecrets);
  delete annotations[InjectorAnnotations.status];
  delete annotations[CaptureSettingsAnnotation];
  return undefined;
}
