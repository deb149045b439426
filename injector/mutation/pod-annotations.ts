/**
 * The annotation and label names the injector reads and writes, beyond the capture annotations
 * of capture/pod-annotations.ts. Istio's names where Istio has one, so pods and tooling move
 * between the two unchanged; `outrigger.dev/*` for what is outrigger's own.
 */

export const InjectorAnnotations = {
  /** Label (wins) or annotation: "true" injects, "false" skips, anything else leaves it to the default policy. */
  inject: 'sidecar.istio.io/inject',
  /** JSON listing what the injector added (Istio's shape); drives stripping on re-injection. */
  status: 'sidecar.istio.io/status',
  /** "true"/"false": proxy as a native sidecar (init container, restartPolicy Always) or classic. */
  nativeSidecar: 'sidecar.istio.io/nativeSidecar',
  /** "true"/"false": per-pod CNI mode (capture by the CNI plugin, proxy-validation instead of proxy-init). */
  cniMode: 'outrigger.dev/cni-mode',
  /** Proxy resources (Kubernetes quantities), over the configuration's. */
  proxyCpu: 'sidecar.istio.io/proxyCPU',
  proxyMemory: 'sidecar.istio.io/proxyMemory',
  proxyCpuLimit: 'sidecar.istio.io/proxyCPULimit',
  proxyMemoryLimit: 'sidecar.istio.io/proxyMemoryLimit',
  /** Envoy's --log-level for this pod. */
  logLevel: 'sidecar.istio.io/logLevel',
  /** kubectl's default container for logs/exec: the first application container. */
  defaultContainer: 'kubectl.kubernetes.io/default-container',
} as const;

