/**
 * Turns an injected workload into the Pod podman 4.3's `kube play` runs, doing what Kubernetes'
 * controllers would (a Pod from the Deployment's template) plus changes for podman 4.3's
 * limits, each reported so the test can assert nothing else was touched (four kinds of change):
 *  - restartPolicy Always -> OnFailure: podman before 4.6 gives init containers the pod's restart
 *    policy, so a finished proxy-init would be restarted forever (containers/podman#16343, #18481);
 *  - env from fieldRefs podman 4.3 refuses: `metadata.namespace` (podman has no namespaces) becomes
 *    the literal the kubelet would put there, the workload's namespace; `status.podIP` (unknown before
 *    the pod exists) is dropped, the stand-in proxy does not read INSTANCE_IP;
 *  - container ports without a hostPort are removed: podman 4.3 publishes them on the host (and so
 *    two pods declaring 8080 collide); Kubernetes only documents them;
 *  - annotations with values over 63 characters are dropped: podman before 5.0 refuses them
 *    (containers/podman#21663; Kubernetes allows 256 KB). For the injector that is only
 *    `sidecar.istio.io/status`, the record of what was injected, which nothing reads at run time.
 */

import { parseAllDocuments, stringify } from 'yaml';

// Loosely typed on purpose: the input is whatever `outrigger inject` printed.
type Json = Record<string, any>;

export interface PodmanPod {
  readonly pod: Json;
  readonly yaml: string;
  readonly changes: readonly string[];
}

export function podFromInjectedWorkload(injectedYaml: string, podName: string): PodmanPod {
  const docs = parseAllDocuments(injectedYaml).map((d) => d.toJS() as Json | null).filter((d): d is Json => d !== null);
  if (docs.length !== 1) throw new Error(`expected one injected workload, got ${docs.length}`);
  const workload = docs[0] as Json;
  const template = workload.kind === 'Pod' ? { metadata: workload.metadata, spec: workload.spec } : workload.spec?.template;
  if (!template?.spec) throw new Error(`${workload.kind} has no pod template`);
  const spec = structuredClone(template.spec) as Json;
  const namespace = String(workload.metadata?.namespace ?? 'default');
  const changes: string[] = [];
  if ((spec.restartPolicy ?? 'Always') === 'Always') {
    spec.restartPolicy = 'OnFailure';
    changes.push('restartPolicy Always -> OnFailure');
  }
  for (const list of ['initContainers', 'containers'] as const) {
    for (const container of (spec[list] ?? []) as Json[]) {
      const env = (container.env ?? []) as Json[];
      const kept: Json[] = [];
      for (const e of env) {
        const field = e.valueFrom?.fieldRef?.fieldPath;
        if (field === 'status.podIP') changes.push(`${container.name}: env ${e.name} (status.podIP) dropped`);
        else if (field === 'metadata.namespace') {
          kept.push({ name: e.name, value: namespace });
          changes.push(`${container.name}: env ${e.name} (metadata.namespace) = ${namespace}`);
        } else kept.push(e);
      }
      if (env.length > 0) container.env = kept;
      const ports = (container.ports ?? []) as Json[];
      const published = ports.filter((p) => p.hostPort !== undefined);
      if (published.length !== ports.length) {
        changes.push(`${container.name}: ports ${ports.filter((p) => p.hostPort === undefined).map((p) => p.containerPort).join(',')} not published`);
        if (published.length > 0) container.ports = published;
        else delete container.ports;
      }
    }
  }
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries((template.metadata?.annotations ?? {}) as Record<string, string>)) {
    if (value.length > 63) changes.push(`annotation ${key} dropped (${value.length} characters)`);
    else annotations[key] = value;
  }
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: podName, labels: template.metadata?.labels ?? {}, annotations },
    spec,
  };
  return { pod, yaml: stringify(pod, { aliasDuplicateObjects: false }), changes };
}
