/**
 * Which pods escaped capture: pods the injector prepared for CNI mode (annotation
 * `outrigger.dev/capture-settings`) whose `proxy-validation` init container ended with exit code
 * 126 (now, or as its last state while it waits in back-off). They started before the plugin was
 * on the node. Pure; reasons are data, so logs, metrics and tests speak of the same reasons.
 */

import { CaptureSettingsAnnotation } from '../../capture/pod-annotations.js';

/** The fields of a core/v1 Pod the repair loop reads. */
export interface Pod {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
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
} as const;

export type Decision =
  | { readonly repair: true; readonly restartCount: number }
  | { readonly repair: false; readonly reason: (typeof SkipReasons)[keyof typeof SkipReasons] };

/** Whether a validation status shows "capture missing": exit 126 now or on the last run. */
export function validationFailed(status: ContainerStatus): boolean {
  if (status.state?.terminated?.exitCode === CaptureMissingExitCode) return true;
  return status.state?.waiting !== undefined && status.lastState?.terminated?.exitCode === CaptureMissingExitCode;
}

export function decideRepair(pod: Pod, options: { readonly nodeName: string; readonly excludeNamespaces: readonly string[] }): Decision {
  if (pod.metadata.annotations?.[CaptureSettingsAnnotation] === undefined) return { repair: false, reason: SkipReasons.notPrepared };
  if (pod.spec?.nodeName !== options.nodeName) return { repair: false, reason: SkipReasons.otherNode };
  if (options.excludeNamespaces.includes(pod.metadata.namespace)) return { repair: false, reason: SkipReasons.excludedNamespace };
  if (pod.spec?.hostNetwork === true) return { repair: false, reason: SkipReasons.hostNetwork };
  if (pod.metadata.deletionTimestamp !== undefined) return { repair: false, reason: SkipReasons.terminating };
  const status = pod.status?.initContainerStatuses?.find((s) => s.name === ValidationContainerName);
  if (!status || !validationFailed(status)) return { repair: false, reason: SkipReasons.captured };
  return { repair: true, restartCount: status.restartCount ?? 0 };
}
