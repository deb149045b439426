/**
 * Realistic AdmissionReview requests as kube-apiserver sends them to a mutating webhook: a pod
 * created by the ReplicaSet controller (generateName, ownerReferences, the projected service
 * account token volume the ServiceAccount admission plugin added before webhooks run).
 */

import { randomUUID } from 'node:crypto';

export type ApiVersion = 'admission.k8s.io/v1' | 'admission.k8s.io/v1beta1';

export function deploymentPod(options: { name?: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string>; env?: number } = {}): Record<string, unknown> {
  const env = Array.from({ length: options.env ?? 2 }, (_, i) => ({ name: `V${i}`, value: `v${i}` }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${options.name ?? 'web'}-7d4b9c8f6d-`,
      // The API server sets the object's namespace to the request's before admission.
      namespace: options.namespace ?? 'shop',
      labels: { app: options.name ?? 'web', 'pod-template-hash': '7d4b9c8f6d', ...options.labels },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T10:00:00Z', ...options.annotations },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${options.name ?? 'web'}-7d4b9c8f6d`, uid: '7b1f3c2e-4b5a-4c6d-9e8f-0a1b2c3d4e5f', controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'registry.example/shop/web:1.4.2',
          ports: [{ containerPort: 8080, name: 'http', protocol: 'TCP' }],
          env,
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' }, periodSeconds: 5 },
          volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'web',
      serviceAccount: 'web',
      securityContext: {},
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      volumes: [
        {
          name: 'kube-api-access-abcde',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
      ],
    },
    status: {},
  };
}

/** A pod of ~64 KB: 2,000 environment variables (the benchmark's huge pod). */
export function hugePod(): Record<string, unknown> {
  return deploymentPod({ name: 'huge', env: 2000 });
}

export function admissionReview(
  object: unknown,
  options: { apiVersion?: ApiVersion; operation?: string; namespace?: string; uid?: string; kind?: string; resource?: string; subResource?: string } = {},
): Record<string, unknown> {
  const kind = options.kind ?? 'Pod';
  const resource = options.resource ?? 'pods';
  return {
    apiVersion: options.apiVersion ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? randomUUID(),
      kind: { group: '', version: 'v1', kind },
      resource: { group: '', version: 'v1', resource },
      requestKind: { group: '', version: 'v1', kind },
      requestResource: { group: '', version: 'v1', resource },
      ...(options.subResource ? { subResource: options.subResource, requestSubResource: options.subResource } : {}),
      namespace: options.namespace ?? 'shop',
      operation: options.operation ?? 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '0c4f0a5e-1111-2222-3333-444455556666',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}
