/**
 * The parts of the Kubernetes Pod API (core/v1) the injector reads and writes, typed precisely
 * enough for the mutation and loosely enough to carry every field it does not know: unknown
 * fields are kept as they are (index signatures), because a webhook must never drop them.
 *
 * These are shapes of JSON as the API server sends it; nothing here validates. The injector's
 * own pod reader (read-pod.ts) checks the few fields it relies on.
 */

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: unknown[];
  [key: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
  [key: string]: unknown;
}

export interface Volume {
  name: string;
  [key: string]: unknown;
}

export interface ContainerPort {
  containerPort: number;
  name?: string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  [key: string]: unknown;
}

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export interface Capabilities {
  add?: string[];
  drop?: string[];
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: Capabilities;
  seccompProfile?: { type: 'RuntimeDefault' | 'Localhost' | 'Unconfined'; localhostProfile?: string };
  [key: string]: unknown;
}

export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  [key: string]: unknown;
}

export interface HttpGetAction {
  path: string;
  port: number | string;
  scheme?: 'HTTP' | 'HTTPS';
}

export interface Probe {
  httpGet?: HttpGetAction;
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: ContainerPort[];
  resources?: ResourceRequirements;
  securityContext?: SecurityContext;
  volumeMounts?: VolumeMount[];
  readinessProbe?: Probe;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  /** Only `Always`, only on init containers: a native sidecar (Kubernetes 1.29+). */
  restartPolicy?: 'Always';
  terminationMessagePolicy?: 'File' | 'FallbackToLogsOnError';
  [key: string]: unknown;
}

export interface LocalObjectReference {
  name: string;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  imagePullSecrets?: LocalObjectReference[];
  hostNetwork?: boolean;
  securityContext?: PodSecurityContext;
  [key: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec: PodSpec;
  [key: string]: unknown;
}

/** One RFC 6902 operation, as fast-json-patch's `compare` produces and the API server accepts. */
export type JsonPatchOperation =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string }
  | { readonly op: 'move'; readonly from: string; readonly path: string }
  | { readonly op: 'copy'; readonly from: string; readonly path: string }
  | { readonly op: 'test'; readonly path: string; readonly value: unknown };
