/**
 * Why the injector leaves a pod alone: a stable code mapped to a sentence. Logs, metrics (the
 * `reason` label) and tests all speak of these codes, so adding one is a visible change.
 */

export const SkipReasons = {
  hostNetwork: 'the pod uses the host network (capture would change the node\'s own networking)',
  windowsPod: 'the pod runs on Windows (spec.os.name), where iptables capture does not exist',
  systemNamespace: 'the pod is in a system namespace (kube-system, kube-public, kube-node-lease, local-path-storage)',
  labelDisabled: 'the pod\'s label sidecar.istio.io/inject is "false"',
  annotationDisabled: 'the pod\'s annotation sidecar.istio.io/inject is "false"',
  neverInjectSelector: 'the pod\'s labels match a neverInjectSelector of the injector configuration',
  defaultPolicyDisabled: 'the default policy is disabled and neither the pod nor an alwaysInjectSelector asks for injection',
} as const;

export type SkipReason = keyof typeof SkipReasons;

/** Namespaces the injector never touches, whatever their labels say. */
export const SystemNamespaces: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage'];
