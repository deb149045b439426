/**
 * Test helpers for manifests/: render an overlay with `kubectl kustomize` (kubectl v1.34 from the
 * test cluster's build, kustomize v5; warnings fail the render),
 * load the objects, validate each against the Kubernetes schema (kubernetes-models), and evaluate
 * label selectors the way the API server does (an independent implementation, not the injector's).
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { findBinaries } from '../../cluster/cluster-binaries.ts';
import { parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';

export const Overlays = ['default', 'cni', 'cni-repair-apply', 'cert-manager'] as const;
export type Overlay = (typeof Overlays)[number];

/** A rendered object, loosely typed: tests read fields by path and the schema check guards shape. */
export type KubeObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: any };

/** The kubectl of the test cluster's build (cluster/build), not whatever is on PATH. */
export function kubectlPath(): string {
  return join(findBinaries(), 'kubectl');
}

export function renderOverlay(overlay: Overlay): string {
  const result = spawnSync(kubectlPath(), ['kustomize', `manifests/overlays/${overlay}`], { encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new Error(`kubectl kustomize could not run (run bash scripts/setup-host.sh to build kubectl): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`kubectl kustomize manifests/overlays/${overlay} failed: ${result.stderr}`);
  // kustomize prints deprecation warnings as comments on stderr; a shipped kustomization has none.
  if (result.stderr.trim() !== '') throw new Error(`kubectl kustomize manifests/overlays/${overlay} warned: ${result.stderr.trim()}`);
  return result.stdout;
}

export function loadObjects(yamlText: string): KubeObject[] {
  return parseAllDocuments(yamlText).map((d) => d.toJS() as KubeObject | null).filter((o): o is KubeObject => o !== null);
}

export const objectKey = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

type Validator = { validate(): void };
const Models: Record<string, new (data: never) => Validator> = {
  'v1/Namespace': Namespace as never,
  'v1/ServiceAccount': ServiceAccount as never,
  'v1/ConfigMap': ConfigMap as never,
  'v1/Service': Service as never,
  'apps/v1/Deployment': Deployment as never,
  'apps/v1/DaemonSet': DaemonSet as never,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as never,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration as never,
  'rbac.authorization.k8s.io/v1/Role': Role as never,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding as never,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole as never,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding as never,
};

/** Validates one object against its Kubernetes schema; throws naming the object. */
export function validateKubernetesObject(o: KubeObject): void {
  const Model = Models[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`${objectKey(o)}: no Kubernetes schema for ${o.apiVersion} ${o.kind}`);
  try {
    new Model(o as never).validate();
  } catch (cause) {
    throw new Error(`${objectKey(o)} does not match the Kubernetes schema: ${(cause as Error).message}`, { cause });
  }
}

export interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** metav1.LabelSelector semantics: every term must hold; an empty selector matches everything. */
export function selectorMatches(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has && values.includes(value as string))) return false;
    if (e.operator === 'NotIn' && has && values.includes(value as string)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
