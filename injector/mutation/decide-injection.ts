/**
 * Whether a pod gets a proxy, in Istio's order: host-network pods and system namespaces never;
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
  if (SystemNamespaces.includes(namespace)) return { inject: false, reason: 'systemNamespace' };

  const labels = pod.metadata?.labels ?? {};
  const label = labels[InjectorAnnotations.inject];
  const annotation = pod.metadata?.annotations?.[InjectorAnnotations.inject];
  if (label !== undefined && label !== '') {
    return isTruthyInjectValue(label) ? { inject: true } : { inject: false, reason: 'labelDisabled' };
  }
  if (annotation !== undefined && annotation !== '') {
    return isTruthyInjectValue(annotation) ? { inject: true } : { inject: false, reason: 'annotationDisabled' };
  }
  if (anySelectorMatches(config.neverInjectSelector, labels)) return { inject: false, reason: 'neverInjectSelector' };
  if (anySelectorMatches(config.alwaysInjectSelector, labels)) return { inject: true };
  return config.defaultPolicy === 'enabled' ? { inject: true } : { inject: false, reason: 'defaultPolicyDisabled' };
}
