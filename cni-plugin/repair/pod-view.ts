/**
 * The part of a core/v1 Pod the repair loop keeps in memory: what repair-decisions.ts and the
 * repairs read (name, namespace, uid, creation and deletion time, the capture-settings annotation,
 * node, host network, the proxy-validation init container's status) and the resourceVersion the
 * informer resumes its watch from. Everything else (other annotations, managedFields, containers,
 * volumes) is dropped before a pod is cached, so one node's pods cost a few hundred bytes each
 * (the kubelet runs at most 110 by default). Pure.
 *
 * It takes both shapes @kubernetes/client-node hands over: a list's pods are deserialized models
 * whose timestamps are Date objects, a watch event's pods are plain JSON with RFC 3339 strings
 * (kubernetes-client/javascript#655); the view always holds strings. Anything that is not an
 * object yields empty fields, which no decision repairs.
 */

import { CaptureSettingsAnnotation } from '../../capture/pod-annotations.js';
import { type ContainerStatus, type Pod, ValidationContainerName } from './repair-decisions.js';

type Loose = Record<string, unknown> | undefined;

const obj = (value: unknown): Loose => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined);
const field = (value: unknown, key: string): Loose => obj(obj(value)?.[key]);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
/** The object without its undefined values (optional fields are absent, not undefined). */
type Defined<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & { [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined> };
const defined = <T extends object>(value: T): Defined<T> => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Defined<T>;

function terminated(value: Loose): { exitCode?: number } | undefined {
  return value === undefined ? undefined : defined({ exitCode: num(value.exitCode) });
}

function validationStatus(value: Loose): ContainerStatus {
  const state = field(value, 'state');
  const waiting = field(state, 'waiting');
  return defined({
    name: ValidationContainerName,
    restartCount: num(value?.restartCount),
    state: state === undefined ? undefined : defined({
      terminated: terminated(field(state, 'terminated')),
      waiting: waiting === undefined ? undefined : defined({ reason: text(waiting.reason) }),
      running: field(state, 'running') === undefined ? undefined : {},
    }),
    lastState: field(value, 'lastState') === undefined ? undefined : defined({ terminated: terminated(field(field(value, 'lastState'), 'terminated')) }),
  });
}

export function podView(raw: unknown): Pod {
  const metadata = field(raw, 'metadata');
  const spec = field(raw, 'spec');
  const statuses = field(raw, 'status')?.initContainerStatuses;
  const validation = Array.isArray(statuses) ? statuses.map(obj).find((s) => s?.name === ValidationContainerName) : undefined;
  const settings = text(field(metadata, 'annotations')?.[CaptureSettingsAnnotation]);
  return {
    metadata: defined({
      name: text(metadata?.name) ?? '',
      namespace: text(metadata?.namespace) ?? '',
      uid: text(metadata?.uid) ?? '',
      resourceVersion: text(metadata?.resourceVersion),
      creationTimestamp: text(metadata?.creationTimestamp),
      deletionTimestamp: text(metadata?.deletionTimestamp),
      annotations: settings === undefined ? undefined : { [CaptureSettingsAnnotation]: settings },
    }),
    spec: defined({ nodeName: text(spec?.nodeName), hostNetwork: spec?.hostNetwork === true ? true : undefined }),
    status: validation === undefined ? {} : { initContainerStatuses: [validationStatus(validation)] },
  };
}
