/**
 * Whether a pod gets a proxy, in Istio's order: host-network pods, Windows pods (outrigger's
 * addition: there is no iptables to capture with) and system namespaces never;
 * then the pod's `sidecar.istio.io/inject` label (which wins over the annotation of the same
 * name); then the never- and always-inject selectors; then the default policy.
 *
 * As in Istio, an explicit value other than y/yes/true/on (any case) means "do not inject".
 */

import type { InjectorConfig } from '../config/injector-config.js';
import { anySelectorMatches } from '../kube/label-selector.js';
import type { Pod } from '../kube/pod-types.js';
import { InjectorAnnotations, isTruthyInjectValue } from './pod-annotations.js';
import { type SkipReason, SystemNamespaces } from './skip-reasons.js';

export type InjectionDecision = { readonly inject: true } | { readonly inject: false; readonly reason: SkipReason };

export function decideInjection(pod: Pod, namespace: string, config: InjectorConfig): InjectionDecision {
  if (pod.spec.hostNetwork === true) return { inject: false, reason: 'hostNetwork' };
  const os: unknown = pod.spec.os;
  if (typeof os === 'object' && os !== null && (os as { name?: unknown }).name === 'windows') return { inject: false, reason: 'windowsPod' };
  if (SystemNamespaces.includes(namespace)) return { inject: false, reason: 'systemNamespace' };

  const labels = pod.metadata?.labels ?? {};
  const label = labels[InjectorAnnotations.inject];
  const annotation = pod.metadata?.annotations?.[InjectorAnnotations.inject];
  // As in Istio, a present label wins even when empty (then the selectors and policy decide).
  const [explicit, reason] = label !== undefined ? [label, 'labelDisabled' as const] : [annotation ?? '', 'annotationDisabled' as const];
  if (explicit !== '') return isTruthyInjectValue(explicit) ? { inject: true } : { inject: false, reason };
  if (anySelectorMatches(config.neverInjectSelector, labels)) return { inject: false, reason: 'neverInjectSelector' };
  if (anySelectorMatches(config.alwaysInjectSelector, labels)) return { inject: true };
  return config.defaultPolicy === 'enabled' ? { inject: true } : { inject: false, reason: 'defaultPolicyDisabled' };
}
