/**
 * Which pods escaped capture: pods the injector prepared for CNI mode (annotation
 * `outrigger.dev/capture-settings`) whose `proxy-validation` init container ended with exit code
 * 126 (now, or as its last state while it waits in back-off). They started before the plugin was
 * on the node. Pods created well after the plugin was installed are left alone (their failure has
 * another cause; deleting them would loop). Pure; reasons are data, so logs, metrics and tests
 * speak of the same reasons.
 */

import { CaptureSettingsAnnotation } from '../../capture/pod-annotations.js';

/** The fields of a core/v1 Pod the repair loop reads. */
export interface Pod {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    /** Kept for the informer (it resumes its watch from the last one seen). */
    readonly resourceVersion?: string;
    readonly creationTimestamp?: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly deletionTimestamp?: string;
  };
  readonly spec?: { readonly nodeName?: string; readonly hostNetwork?: boolean };
  readonly status?: {
    readonly initContainerStatuses?: readonly ContainerStatus[];
  };
}

interface Terminated {
  readonly exitCode?: number;
}

export interface ContainerStatus {
  readonly name: string;
  readonly restartCount?: number;
  readonly state?: { readonly terminated?: Terminated; readonly waiting?: { readonly reason?: string }; readonly running?: object };
  readonly lastState?: { readonly terminated?: Terminated };
}

export const ValidationContainerName = 'proxy-validation';
export const CaptureMissingExitCode = 126;

export const SkipReasons = {
  notPrepared: 'not prepared for CNI mode',
  excludedNamespace: 'namespace excluded',
  hostNetwork: 'host network',
  terminating: 'already terminating',
  otherNode: 'on another node',
  captured: 'validation did not fail with 126',
  startedAfterInstall: 'created after the plugin was installed',
} as const;

/**
 * Clock skew allowed between the API server (creationTimestamp) and this node (install time).
 * A pod created more than this after our entry was in place went through the plugin; if its
 * validation still fails, the cause is elsewhere, and deleting it would only loop.
 */
export const InstallSkewMs = 30_000;

export type Decision =
  | { readonly repair: true; readonly restartCount: number }
  | { readonly repair: false; readonly reason: (typeof SkipReasons)[keyof typeof SkipReasons] };

/** Whether a validation status shows "capture missing": exit 126 now or on the last run. */
export function validationFailed(status: ContainerStatus): boolean {
  if (status.state?.terminated?.exitCode === CaptureMissingExitCode) return true;
  return status.state?.waiting !== undefined && status.lastState?.terminated?.exitCode === CaptureMissingExitCode;
}

export interface DecisionContext {
  readonly nodeName: string;
  readonly excludeNamespaces: readonly string[];
  /** When our entry was first seen in the primary config (ms since the epoch). */
  readonly installedAtMs: number;
}

export function decideRepair(pod: Pod, options: DecisionContext): Decision {
  if (pod.metadata.annotations?.[CaptureSettingsAnnotation] === undefined) return { repair: false, reason: SkipReasons.notPrepared };
  if (pod.spec?.nodeName !== options.nodeName) return { repair: false, reason: SkipReasons.otherNode };
  if (options.excludeNamespaces.includes(pod.metadata.namespace)) return { repair: false, reason: SkipReasons.excludedNamespace };
  if (pod.spec?.hostNetwork === true) return { repair: false, reason: SkipReasons.hostNetwork };
  if (pod.metadata.deletionTimestamp !== undefined) return { repair: false, reason: SkipReasons.terminating };
  const status = pod.status?.initContainerStatuses?.find((s) => s.name === ValidationContainerName);
  if (!status || !validationFailed(status)) return { repair: false, reason: SkipReasons.captured };
  const created = Date.parse(pod.metadata.creationTimestamp ?? '');
  if (created > options.installedAtMs + InstallSkewMs) return { repair: false, reason: SkipReasons.startedAfterInstall };
  return { repair: true, restartCount: status.restartCount ?? 0 };
}
