// manifests/: every overlay renders (kubectl kustomize, v1.34 from the test cluster's build) with no
// warning, matches its reviewed rendering in manifests/rendered/, validates against the Kubernetes schema, and keeps the
// safety properties a cluster depends on: the webhook's selectors and failure behaviour, never its
// own namespace, the injector's availability and restricted securityContext, least RBAC.
// Refresh the renderings with OUTRIGGER_UPDATE_GOLDEN=1 and review the diff.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseInjectorConfig } from '../../injector/config/injector-config.js';
import { type KubeObject, loadObjects, objectKey, type Overlay, Overlays, renderOverlay, selectorMatches, validateKubernetesObject } from '../helpers/manifests.js';

const rendered = new Map<Overlay, KubeObject[]>(Overlays.map((o) => [o, loadObjects(renderOverlay(o))]));
const objects = (overlay: Overlay): KubeObject[] => rendered.get(overlay) ?? [];
const find = (overlay: Overlay, kind: string, name: string): KubeObject => {
  const found = objects(overlay).find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${overlay}: no ${kind} ${name}`);
  return found;
};
const namespace = 'outrigger';
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const ownImages = new Set([`outrigger/outrigger:${version}`, `outrigger/proxy-init:${version}`]);

describe.each(Overlays)('overlay %s', (overlay) => {
  it('renders what manifests/rendered/ holds', () => {
    const path = `manifests/rendered/${overlay}.yaml`;
    const current = renderOverlay(overlay);
    if (process.env.OUTRIGGER_UPDATE_GOLDEN === '1') {
      writeFileSync(path, `# Rendered from manifests/overlays/${overlay} (kubectl kustomize); refreshed by test/unit/manifests.test.ts.\n# Apply with kubectl apply -k manifests/overlays/${overlay} (or -f this file).\n${current}`);
    }
    expect(existsSync(path), `${path} is missing: run with OUTRIGGER_UPDATE_GOLDEN=1 and review it`).toBe(true);
    const byKey = (list: KubeObject[]) => new Map(list.map((o) => [objectKey(o), o]));
    const want = byKey(loadObjects(readFileSync(path, 'utf8')));
    const got = byKey(loadObjects(current));
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    const differing = [...got.keys()].filter((k) => !isDeepStrictEqual(got.get(k), want.get(k)));
    expect(differing).toEqual([]);
  });

  it('validates every Kubernetes object against its schema', () => {
    const list = objects(overlay);
    expect(list.length).toBeGreaterThan(8);
    for (const o of list.filter((x) => !x.apiVersion.startsWith('cert-manager.io/'))) validateKubernetesObject(o);
  });

  it('keeps every namespaced object in the outrigger namespace and uses only images this project builds', () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration']);
    for (const o of objects(overlay)) {
      if (clusterScoped.has(o.kind)) expect(o.metadata.namespace, objectKey(o)).toBeUndefined();
      else expect(o.metadata.namespace, objectKey(o)).toBe(namespace);
    }
    for (const o of objects(overlay).filter((x) => x.kind === 'Deployment' || x.kind === 'DaemonSet')) {
      for (const c of o.spec.template.spec.containers) expect(ownImages.has(c.image), `${objectKey(o)} image ${c.image}`).toBe(true);
    }
    // The injector's own parser accepts the shipped configuration (it refuses unknown keys and bad values).
    const config = parseInjectorConfig(find(overlay, 'ConfigMap', 'outrigger-injector').data['config.yaml'], `${overlay} ConfigMap config.yaml`);
    expect(config.init.image).toBe(`outrigger/proxy-init:${version}`);
    expect(config.proxy.uid).toBe(1337);
    expect(config.cniMode).toBe(overlay.startsWith('cni'));
  });

  it('webhook: pods only, v1 reviews, Fail, no side effects, bounded timeout, reinvoked if needed', () => {
    const webhookConfig = find(overlay, 'MutatingWebhookConfiguration', 'outrigger-injector');
    expect(webhookConfig.webhooks).toHaveLength(1);
    const [hook] = webhookConfig.webhooks;
    expect(hook.failurePolicy).toBe('Fail');
    expect(hook.sideEffects).toBe('None');
    expect(hook.reinvocationPolicy).toBe('IfNeeded');
    expect(hook.admissionReviewVersions).toEqual(['v1']);
    expect(hook.timeoutSeconds).toBeGreaterThanOrEqual(1);
    expect(hook.timeoutSeconds).toBeLessThanOrEqual(10);
    expect(hook.rules).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    // The webhook calls the rendered Service, on the port that reaches the injector's HTTPS port.
    const service = find(overlay, 'Service', hook.clientConfig.service.name);
    expect(hook.clientConfig.service).toMatchObject({ namespace, path: '/inject' });
    const port = service.spec.ports.find((p: { port: number }) => p.port === hook.clientConfig.service.port);
    expect(port, 'service port the webhook calls').toBeDefined();
    const deployment = find(overlay, 'Deployment', 'outrigger-injector');
    const container = deployment.spec.template.spec.containers[0];
    expect(container.ports.map((p: { name: string }) => p.name)).toContain(port.targetPort);
    expect(selectorMatches({ matchLabels: service.spec.selector }, deployment.spec.template.metadata.labels)).toBe(true);
  });

  it('webhook selects labelled namespaces, skips opted-out pods, and never its own namespace', () => {
    const [hook] = find(overlay, 'MutatingWebhookConfiguration', 'outrigger-injector').webhooks;
    const nsLabels = (name: string, extra: Record<string, string> = {}) => ({ 'kubernetes.io/metadata.name': name, ...extra });
    expect(selectorMatches(hook.namespaceSelector, nsLabels('shop', { 'istio-injection': 'enabled' }))).toBe(true);
    expect(selectorMatches(hook.namespaceSelector, nsLabels('shop'))).toBe(false);
    expect(selectorMatches(hook.namespaceSelector, nsLabels('shop', { 'istio-injection': 'disabled' }))).toBe(false);
    // Its own namespace as rendered, even if someone labels it for injection, and kube-system.
    const own = find(overlay, 'Namespace', namespace);
    expect(selectorMatches(hook.namespaceSelector, { ...own.metadata.labels, ...nsLabels(namespace) })).toBe(false);
    expect(selectorMatches(hook.namespaceSelector, { ...own.metadata.labels, ...nsLabels(namespace, { 'istio-injection': 'enabled' }) })).toBe(false);
    expect(selectorMatches(hook.namespaceSelector, nsLabels('kube-system', { 'istio-injection': 'enabled' }))).toBe(false);
    expect(selectorMatches(hook.objectSelector, { app: 'web' })).toBe(true);
    expect(selectorMatches(hook.objectSelector, { 'sidecar.istio.io/inject': 'true' })).toBe(true);
    expect(selectorMatches(hook.objectSelector, { 'sidecar.istio.io/inject': 'false' })).toBe(false);
    // Belt and braces: outrigger's own pods also opt out by label.
    for (const o of objects(overlay).filter((x) => x.kind === 'Deployment' || x.kind === 'DaemonSet')) {
      expect(selectorMatches(hook.objectSelector, o.spec.template.metadata.labels), objectKey(o)).toBe(false);
    }
  });

  it('injector: 2+ replicas a PodDisruptionBudget can keep, spread over nodes, HTTPS probes, resources', () => {
    const deployment = find(overlay, 'Deployment', 'outrigger-injector');
    const pdb = find(overlay, 'PodDisruptionBudget', 'outrigger-injector');
    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(selectorMatches(pdb.spec.selector, labels)).toBe(true);
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas); // drains can still evict one
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    const spread = deployment.spec.template.spec.topologySpreadConstraints;
    expect(spread.map((s: { topologyKey: string }) => s.topologyKey)).toContain('kubernetes.io/hostname');
    for (const s of spread) expect(selectorMatches(s.labelSelector, labels)).toBe(true);
    const [container] = deployment.spec.template.spec.containers;
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      expect(probe.httpGet.scheme).toBe('HTTPS');
      expect(container.ports.map((p: { name: string }) => p.name)).toContain(probe.httpGet.port);
    }
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits.memory).toEqual(expect.any(String));
  });

  it('injector: restricted securityContext (non-root, no capabilities, RuntimeDefault seccomp, read-only root)', () => {
    const pod = find(overlay, 'Deployment', 'outrigger-injector').spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.securityContext.seccompProfile.type).toBe('RuntimeDefault');
    expect(pod.hostNetwork ?? false).toBe(false);
    for (const c of pod.containers) {
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
      expect(c.securityContext.capabilities.add).toBeUndefined();
      expect(c.securityContext.privileged ?? false).toBe(false);
    }
    for (const v of pod.volumes) expect(v.hostPath, `volume ${v.name}`).toBeUndefined();
  });

  it('RBAC: no wildcards, no cluster-wide secrets, every binding to an outrigger ServiceAccount', () => {
    const roles = objects(overlay).filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
    for (const role of roles) {
      for (const rule of role.rules) {
        for (const field of ['verbs', 'resources', 'apiGroups', 'resourceNames']) expect(rule[field] ?? [], `${objectKey(role)} ${field}`).not.toContain('*');
        expect(rule.nonResourceURLs, objectKey(role)).toBeUndefined();
        for (const verb of ['escalate', 'bind', 'impersonate', 'deletecollection']) expect(rule.verbs).not.toContain(verb);
        if (role.kind === 'ClusterRole') expect(rule.resources, `${objectKey(role)} grants secrets cluster-wide`).not.toContain('secrets');
        if (rule.resources.includes('secrets')) {
          // Reading or changing a Secret only by name; create cannot be limited by name.
          const unnamed = rule.resourceNames === undefined;
          if (unnamed) expect(rule.verbs).toEqual(['create']);
          else expect(rule.resourceNames).toEqual(['outrigger-injector-tls']);
        }
      }
    }
    const accounts = new Set(objects(overlay).filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name));
    for (const binding of objects(overlay).filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
      for (const subject of binding.subjects) {
        expect(subject).toMatchObject({ kind: 'ServiceAccount', namespace });
        expect(accounts.has(subject.name), `${objectKey(binding)} binds missing account ${subject.name}`).toBe(true);
      }
      expect(roles.some((r) => r.kind === binding.roleRef.kind && r.metadata.name === binding.roleRef.name), `${objectKey(binding)} role`).toBe(true);
    }
  });
});

describe('overlay differences', () => {
  it('default: self-managed TLS with exactly the RBAC it needs and a token to use it', () => {
    const deployment = find('default', 'Deployment', 'outrigger-injector');
    expect(deployment.spec.template.spec.automountServiceAccountToken).toBe(true);
    expect(deployment.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['--tls-mode=self-managed', '--tls-secret-name=outrigger-injector-tls', '--webhook-config-name=outrigger-injector', '--service-name=outrigger-injector', `--namespace=${namespace}`]));
    expect(find('default', 'Role', 'outrigger-injector-tls').rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['outrigger-injector-tls'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    expect(find('default', 'ClusterRole', 'outrigger-injector-webhook').rules).toEqual([
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['outrigger-injector'], verbs: ['get', 'patch'] },
    ]);
  });

  it('cert-manager: files from the issued Secret, no API token, no RBAC, CA injected into the webhook', () => {
    const pod = find('cert-manager', 'Deployment', 'outrigger-injector').spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(find('cert-manager', 'ServiceAccount', 'outrigger-injector').automountServiceAccountToken).toBe(false);
    expect(objects('cert-manager').filter((o) => o.apiVersion.startsWith('rbac.'))).toEqual([]);
    const certificate = find('cert-manager', 'Certificate', 'outrigger-injector');
    expect(certificate.apiVersion).toBe('cert-manager.io/v1');
    expect(certificate.spec.dnsNames).toContain(`outrigger-injector.${namespace}.svc`);
    const issuer = find('cert-manager', 'Issuer', certificate.spec.issuerRef.name);
    expect(issuer.spec.selfSigned).toEqual({});
    const volume = pod.volumes.find((v: { secret?: { secretName: string } }) => v.secret?.secretName === certificate.spec.secretName);
    expect(volume, 'the issued Secret is mounted').toBeDefined();
    const mount = pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === volume.name);
    expect(pod.containers[0].args).toEqual(expect.arrayContaining([`--tls-cert-file=${mount.mountPath}/tls.crt`, `--tls-key-file=${mount.mountPath}/tls.key`]));
    expect(pod.containers[0].args.some((a: string) => a.startsWith('--tls-mode=self-managed'))).toBe(false);
    const annotations = find('cert-manager', 'MutatingWebhookConfiguration', 'outrigger-injector').metadata.annotations ?? {};
    expect(annotations['cert-manager.io/inject-ca-from']).toBe(`${namespace}/${certificate.metadata.name}`);
  });

  it('cni: node DaemonSet with host paths, every taint tolerated, system-node-critical, pods-only RBAC; injector in CNI mode', () => {
    const ds = find('cni', 'DaemonSet', 'outrigger-cni');
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.tolerations).toEqual(expect.arrayContaining([{ operator: 'Exists', effect: 'NoSchedule' }, { operator: 'Exists', effect: 'NoExecute' }]));
    expect(pod.volumes.map((v: { hostPath?: { path: string } }) => v.hostPath?.path).filter(Boolean).sort()).toEqual(['/etc/cni/net.d', '/opt/cni/bin', '/usr/sbin']);
    const [container] = pod.containers;
    expect(container.args).toEqual(['cni', 'install', '--cni-bin-dir=/host/opt/cni/bin', '--cni-conf-dir=/host/etc/cni/net.d', '--plugin-binary=/opt/outrigger/bin/outrigger-cni', '--exclude-namespaces=kube-system,outrigger', '--repair-mode=delete', '--metrics-port=15014']);
    expect(container.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(container.securityContext).toMatchObject({ privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container.securityContext.capabilities.add).toBeUndefined();
    // The node's /usr/sbin only to look for nft (--native-nftables=true), never writable.
    expect(container.volumeMounts.find((m: { name: string }) => m.name === 'node-sbin')).toEqual({ name: 'node-sbin', mountPath: '/host/usr/sbin', readOnly: true });
    expect(find('cni', 'ClusterRole', 'outrigger-cni').rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'delete'] }]);
    expect(ds.spec.updateStrategy.rollingUpdate).toEqual({ maxUnavailable: 1, maxSurge: 0 });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-metrics', scheme: 'HTTP' });
    const config = parseYaml(find('cni', 'ConfigMap', 'outrigger-injector').data['config.yaml']) as { cniMode: boolean };
    expect(config.cniMode).toBe(true);
    // The rest of the default install is unchanged.
    expect(find('cni', 'Deployment', 'outrigger-injector')).toEqual(find('default', 'Deployment', 'outrigger-injector'));
  });

  it('cni-repair-apply: the cni install with the repair loop applying in place, and only the privileges that needs', () => {
    const apply = find('cni-repair-apply', 'DaemonSet', 'outrigger-cni');
    const cni = find('cni', 'DaemonSet', 'outrigger-cni');
    const [container] = apply.spec.template.spec.containers;
    expect(container.args).toEqual(cni.spec.template.spec.containers[0].args.map((a: string) => (a === '--repair-mode=delete' ? '--repair-mode=apply' : a)));
    expect(apply.spec.template.spec.hostPID).toBe(true);
    expect(container.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE'] });
    expect(container.securityContext).toMatchObject({ privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(container.volumeMounts).toContainEqual({ name: 'host-proc', mountPath: '/host/proc', readOnly: true });
    // Nothing else differs from the cni overlay.
    const strip = (ds: KubeObject) => {
      const copy = structuredClone(ds);
      delete copy.spec.template.spec.hostPID;
      copy.spec.template.spec.containers[0].args = [];
      delete copy.spec.template.spec.containers[0].securityContext.capabilities;
      copy.spec.template.spec.containers[0].volumeMounts = copy.spec.template.spec.containers[0].volumeMounts.filter((m: { name: string }) => m.name !== 'host-proc');
      copy.spec.template.spec.volumes = copy.spec.template.spec.volumes.filter((v: { name: string }) => v.name !== 'host-proc');
      return copy;
    };
    expect(strip(apply)).toEqual(strip(cni));
    const others = (o: string) => objects(o as Overlay).filter((x) => x.kind !== 'DaemonSet');
    expect(others('cni-repair-apply')).toEqual(others('cni'));
  });

  it('the schema check can fail: a misspelt field and a wrong type are refused', () => {
    const deployment = structuredClone(find('default', 'Deployment', 'outrigger-injector'));
    deployment.spec.replicas = 'two';
    expect(() => validateKubernetesObject(deployment)).toThrow(/Deployment\/outrigger\/outrigger-injector/);
    const webhook = structuredClone(find('default', 'MutatingWebhookConfiguration', 'outrigger-injector'));
    delete webhook.webhooks[0].sideEffects;
    expect(() => validateKubernetesObject(webhook)).toThrow(/sideEffects/);
  });
});
