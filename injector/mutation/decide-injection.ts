/**
 * Whether a pod gets a proxy, in Istio's order: host-network pods, Windows pods (outrigger's
 * addition: there is no iptables to capture with) and system namespaces never;
 * then the pod's `sidecar.istio.io/inject` label (which wins over the annotation of the same
 * name, even when empty); then the never- and always-inject selectors; then the default policy.
 *
 * As current Istio: only "true" and "false" (exactly, lower case) decide; an empty value leaves
 * it to the selectors and policy; any other value ("yes", "True", a typo) also falls back to them,
 * with a warning (older Istio read y/yes/on as true and anything else as false).
 * Warnings also name an annotation the label overrides with another value, and an explicit
 * "true" that cannot be honoured (host network, Windows, system namespace).
 */

import type { InjectorConfig } from '../config/injector-config.js';
import { anySelectorMatches } from '../kube/label-selector.js';
import type { Pod } from '../kube/pod-types.js';
import { InjectorAnnotations } from './pod-annotations.js';
import { quoteValue } from './setting-warnings.js';
import { type SkipReason, SystemNamespaces } from './skip-reasons.js';

export type InjectionDecision = ({ readonly inject: true } | { readonly inject: false; readonly reason: SkipReason }) & {
  /** Settings accepted but not followed as written; empty when there are none. */
  readonly warnings: readonly string[];
};

const Name = InjectorAnnotations.inject;

/** Why an explicit request cannot be honoured, in a few words, per forced skip. */
const ForcedSkips: Partial<Record<SkipReason, string>> = {
  hostNetwork: 'the pod uses the host network',
  windowsPod: 'the pod runs on Windows',
  systemNamespace: 'the namespace is a system namespace',
};

function forcedSkip(pod: Pod, namespace: string): SkipReason | undefined {
  if (pod.spec.hostNetwork === true) return 'hostNetwork';
  const os: unknown = pod.spec.os;
  if (typeof os === 'object' && os !== null && (os as { name?: unknown }).name === 'windows') return 'windowsPod';
  if (SystemNamespaces.includes(namespace)) return 'systemNamespace';
  return undefined;
}

export function decideInjection(pod: Pod, namespace: string, config: InjectorConfig): InjectionDecision {
  const labels = pod.metadata?.labels ?? {};
  const label = labels[Name];
  const annotation = pod.metadata?.annotations?.[Name];
  // As in Istio, a present label wins even when empty (then the selectors and policy decide).
  const [explicit, from, reason] = label !== undefined ? [label, 'label', 'labelDisabled' as const] : [annotation ?? '', 'annotation', 'annotationDisabled' as const];
  const warnings: string[] = [];
  if (label !== undefined && annotation !== undefined && annotation !== label) {
    warnings.push(`annotation ${Name}=${quoteValue(annotation)} ignored: the label of the same name (${quoteValue(label)}) wins`);
  }

  const forced = forcedSkip(pod, namespace);
  if (forced) {
    if (explicit === 'true') warnings.push(`${from} ${Name}="true" not honoured: ${ForcedSkips[forced]}`);
    return { inject: false, reason: forced, warnings };
  }

  if (explicit === 'true') return { inject: true, warnings };
  if (explicit === 'false') return { inject: false, reason, warnings };
  if (explicit !== '') {
    warnings.push(`${from} ${Name}=${quoteValue(explicit)} ignored (only "true" or "false"); the default policy decides`);
  }
  if (anySelectorMatches(config.neverInjectSelector, labels)) return { inject: false, reason: 'neverInjectSelector', warnings };
  if (anySelectorMatches(config.alwaysInjectSelector, labels)) return { inject: true, warnings };
  return config.defaultPolicy === 'enabled' ? { inject: true, warnings } : { inject: false, reason: 'defaultPolicyDisabled', warnings };
}
