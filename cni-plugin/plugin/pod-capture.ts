/**
 * Decides what ADD (and CHECK) should do for a pod: skip it (with a reason that logs and tests
 * share) or capture it with the settings the injector put in `outrigger.dev/capture-settings`.
 * Annotations come from the runtime (runtimeConfig `io.kubernetes.cri.pod-annotations`, no API
 * call) and otherwise from the API server when a kubeconfig is configured. Without either, the
 * pod is passed through: a pod the injector prepared then fails its proxy-validation container
 * (exit 126) instead of running uncaptured.
 *
 * Interception mode NONE (Istio's "proxy, no capture"): the injector writes no settings annotation
 * for such a pod, and settings that say NONE anyway (an older or hand-written annotation) are a
 * skip too, never a capture and never an error that would keep the pod from starting.
 *
 * DNS: the plugin runs on the node and cannot read the pod's resolv.conf (the runtime writes it
 * after the network is set up), so a pod that asks for DNS capture gets all of its DNS captured,
 * as Istio's CNI plugin does (redirectDns implies captureAllDns).
 *
 * Backend: the pod's settings carry `nativeNftables` (the injector resolves it from its
 * configuration); the network config's `nativeNftables` is the default for settings that do not
 * (a pod injected before the setting existed).
 */

import { buildCaptureConfig } from '../../capture/build-capture-config.js';
import type { CaptureConfig } from '../../capture/capture-config.js';
import { parseBoolean } from '../../capture/capture-values.js';
import { CaptureSettingsAnnotation, decodeCaptureSettings, NoInterceptionMode } from '../../capture/pod-annotations.js';
import type { Logger } from '../../common/log.js';
import { fetchPod } from './fetch-pod.js';
import { readKubeconfig } from '../kube/read-kubeconfig.js';
import type { NetConf } from './net-conf.js';
import type { PodIdentity } from './pod-identity.js';

export const SkipReasons = {
  notAPod: 'CNI_ARGS names no Kubernetes pod',
  excludedNamespace: 'the pod is in an excluded namespace',
  noAnnotation: `the pod has no ${CaptureSettingsAnnotation} annotation (not prepared for CNI mode)`,
  noAnnotationSource: 'the runtime passed no pod annotations and no kubeconfig is configured',
  noInterception: 'the pod\'s interception mode is NONE (proxy without capture)',
} as const;
export type SkipReason = keyof typeof SkipReasons;

export type PodDecision =
  | { readonly kind: 'skip'; readonly reason: SkipReason }
  | { readonly kind: 'capture'; readonly config: CaptureConfig; readonly source: 'runtime' | 'api' };

/** The capture config an annotation value asks for (code 7 naming each bad setting). */
export function configFromSettingsAnnotation(text: string, nativeNftablesDefault = false): CaptureConfig {
  const decoded = decodeCaptureSettings(text);
  const raw = decoded.nativeNftables || !nativeNftablesDefault
    ? decoded
    : { ...decoded, nativeNftables: { text: 'true', source: 'network config nativeNftables' } };
  const redirectDns = raw.redirectDns;
  const parsed = redirectDns ? parseBoolean(redirectDns.text) : undefined;
  if (redirectDns && parsed?.ok && parsed.value) {
    return buildCaptureConfig({ ...raw, captureAllDns: { text: 'true', source: `${redirectDns.source} (CNI mode captures all DNS)` } });
  }
  return buildCaptureConfig(raw);
}

export async function decidePod(conf: NetConf, pod: PodIdentity | null, log: Logger): Promise<PodDecision> {
  if (!pod) return { kind: 'skip', reason: 'notAPod' };
  if (conf.excludeNamespaces.includes(pod.namespace)) return { kind: 'skip', reason: 'excludedNamespace' };
  let annotations = conf.podAnnotations;
  let source: 'runtime' | 'api' = 'runtime';
  if (!annotations) {
    if (!conf.kubeconfig) return { kind: 'skip', reason: 'noAnnotationSource' };
    const access = await readKubeconfig(conf.kubeconfig);
    annotations = (await fetchPod(access, { namespace: pod.namespace, name: pod.name, uid: pod.uid, deadlineMs: conf.apiTimeoutSeconds * 1000, log })).annotations;
    source = 'api';
  }
  const settings = annotations[CaptureSettingsAnnotation];
  if (settings === undefined) return { kind: 'skip', reason: 'noAnnotation' };
  const mode = decodeCaptureSettings(settings).inboundInterceptionMode?.text;
  if (mode?.trim().toUpperCase() === NoInterceptionMode) return { kind: 'skip', reason: 'noInterception' };
  return { kind: 'capture', config: configFromSettingsAnnotation(settings, conf.nativeNftables), source };
}
