// Injection through a real kube-apiserver (v1.34.4, built from Go modules; cluster/cluster.ts): the
// default overlay applied with kubectl, the self-managed CA against the real API with the shipped
// RBAC, pods created by kubectl and by controllers as the API server stores them, denials as kubectl
// prints them, reinvocation after a second webhook, and `outrigger inject | kubectl apply`.
// STAND-IN: the injector runs as local processes registered in an EndpointSlice (no node yet); see
// test/helpers/cluster-outrigger.ts.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startCluster, type Cluster } from '../../cluster/cluster.ts';
import { run } from '../../cluster/run-command.ts';
import { waitUntil } from '../../cluster/wait-until.ts';
import { applyOverlay, cliPath, createNamespace, type LocalInjectors, OutriggerNamespace, startLocalInjectors, waitForWebhook, webhookCaBundle } from '../helpers/cluster-outrigger.js';
import { startSecondWebhook, type SecondWebhook } from '../helpers/second-webhook.js';

type Container = { name: string; image?: string; restartPolicy?: string; args?: string[]; readinessProbe?: unknown; startupProbe?: unknown; resources?: unknown; securityContext?: { runAsUser?: number } };
type AuditEvent = { verb: string; stage: string; objectRef?: { resource?: string; namespace?: string; name?: string }; annotations?: Record<string, string> };
type StoredPod = { metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> }; spec: { initContainers?: Container[]; containers: Container[] } };

let cluster: Cluster;
let injectors: LocalInjectors;
const ns = 'apps';

function podsOf(namespace: string, selector: string): StoredPod[] {
  return (JSON.parse(cluster.kubectlOk(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json'])) as { items: StoredPod[] }).items;
}

async function waitForPods(namespace: string, selector: string, count: number): Promise<StoredPod[]> {
  return waitUntil(`${count} pod(s) ${selector} in ${namespace}`, 60_000, () => {
    const pods = podsOf(namespace, selector);
    return pods.length >= count ? pods : undefined;
  }, 300);
}

/** The mutating webhook calls the audit log recorded for one pod's create, in order. */
function webhookRounds(namespace: string, podName: string): { round: number; configuration: string; mutated: boolean }[] {
  const events = readFileSync(cluster.auditLogFile, 'utf8').split('\n').filter((l) => l.includes('"create"') && l.includes(podName)).map((l) => JSON.parse(l) as AuditEvent);
  const create = events.find((e) => e.verb === 'create' && e.objectRef?.resource === 'pods' && e.objectRef.namespace === namespace && e.objectRef.name === podName && e.stage === 'ResponseComplete');
  if (!create) throw new Error(`no audit event for the create of pod ${namespace}/${podName}`);
  return Object.entries(create.annotations ?? {})
    .map(([key, value]) => ({ match: /^mutation\.webhook\.admission\.k8s\.io\/round_(\d+)_index_(\d+)$/.exec(key), value }))
    .filter((e): e is { match: RegExpExecArray; value: string } => e.match !== null)
    .sort((a, b) => Number(a.match[1]) - Number(b.match[1]) || Number(a.match[2]) - Number(b.match[2]))
    .map(({ match, value }) => {
      const parsed = JSON.parse(value) as { configuration: string; mutated: boolean };
      return { round: Number(match[1]), configuration: parsed.configuration, mutated: parsed.mutated };
    });
}

const names = (list: Container[] | undefined) => (list ?? []).map((c) => c.name);

function expectInjectedNative(pod: StoredPod): void {
  expect(names(pod.spec.initContainers), pod.metadata.name).toEqual(expect.arrayContaining(['proxy-init', 'proxy']));
  const init = pod.spec.initContainers ?? [];
  const proxy = init.find((c) => c.name === 'proxy');
  // Native sidecar as the API server stored it: restartPolicy Always, probes and resources kept through defaulting.
  expect(proxy?.restartPolicy).toBe('Always');
  expect(proxy?.readinessProbe ?? proxy?.startupProbe).toBeDefined();
  expect(proxy?.resources).toBeDefined();
  expect(init.findIndex((c) => c.name === 'proxy-init')).toBeLessThan(init.findIndex((c) => c.name === 'proxy'));
  expect(names(pod.spec.containers)).not.toContain('proxy');
  expect(pod.metadata.annotations?.['sidecar.istio.io/status']).toBeDefined();
}

function expectNotInjected(pod: StoredPod): void {
  expect([...names(pod.spec.initContainers), ...names(pod.spec.containers)]).not.toContain('proxy');
  expect(names(pod.spec.initContainers)).not.toContain('proxy-init');
}

const deployment = (name: string, namespace: string, podExtras: Record<string, unknown> = {}, labels: Record<string, string> = {}) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
  spec: {
    replicas: 1, selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name, ...labels } }, spec: { containers: [{ name: 'app', image: 'outrigger/test-app:0.1.0', ports: [{ containerPort: 8080 }] }], ...podExtras } },
  },
});

beforeAll(async () => {
  cluster = await startCluster();
  applyOverlay(cluster, 'default');
  injectors = await startLocalInjectors(cluster, { replicas: 2 });
  await createNamespace(cluster, ns);
  await waitForWebhook(cluster, ns);
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('self-managed TLS against the real API server, with the shipped RBAC', () => {
  it('creates its CA Secret and patches the caBundle the API server then trusts', () => {
    const secret = JSON.parse(cluster.kubectlOk(['get', 'secret', 'outrigger-injector-tls', '-n', OutriggerNamespace, '-o', 'json'])) as { data: Record<string, string> };
    for (const key of ['ca.crt', 'tls.crt', 'tls.key']) expect(secret.data[key], key).toBeTruthy();
    const ca = Buffer.from(secret.data['ca.crt'] ?? '', 'base64').toString('utf8');
    expect(webhookCaBundle(cluster)).toBe(ca);
    const serving = new X509Certificate(Buffer.from(secret.data['tls.crt'] ?? '', 'base64'));
    expect(serving.subjectAltName).toContain('DNS:outrigger-injector.outrigger.svc');
    // The API server called the webhook over TLS with that CA (beforeAll's dry-run pod was injected).
  });

  it('repairs the caBundle after kubectl patch breaks it', async () => {
    const good = webhookCaBundle(cluster);
    cluster.kubectlOk(['patch', 'mutatingwebhookconfiguration', 'outrigger-injector', '--type=json',
      '-p', JSON.stringify([{ op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: Buffer.from('not a CA').toString('base64') }])]);
    expect(webhookCaBundle(cluster)).toBe('not a CA');
    await waitUntil('the injector to repair the caBundle', 30_000, () => webhookCaBundle(cluster) === good || undefined, 500);
    await waitForWebhook(cluster, ns);
  });

  it('is what RBAC allows and no more: the service account cannot read other Secrets', () => {
    const as = ['--as=system:serviceaccount:outrigger:outrigger-injector'];
    expect(cluster.kubectl(['get', 'secret', 'outrigger-injector-tls', '-n', OutriggerNamespace, ...as]).status).toBe(0);
    const other = cluster.kubectl(['get', 'secrets', '-n', OutriggerNamespace, ...as]);
    expect(other.status).not.toBe(0);
    expect(other.stderr).toMatch(/forbidden/);
  });
});

describe('injection through the API server', () => {
  it('injects a Deployment\'s pods (native sidecar by default), as the API server stored them', async () => {
    cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(deployment('web', ns)) });
    const [pod] = await waitForPods(ns, 'app=web', 1);
    expectInjectedNative(pod as StoredPod);
    // Stored in full: the YAML kubectl prints holds the same containers.
    const yaml = parseYaml(cluster.kubectlOk(['get', 'pod', (pod as StoredPod).metadata.name, '-n', ns, '-o', 'yaml'])) as StoredPod;
    expect(names(yaml.spec.initContainers)).toEqual(names((pod as StoredPod).spec.initContainers));
  });

  it('injects a bare Pod, a Job and a StatefulSet', async () => {
    const app = [{ name: 'app', image: 'outrigger/test-app:0.1.0' }];
    cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', namespace: ns, labels: { app: 'bare' } }, spec: { containers: app } },
      { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'job', namespace: ns }, spec: { template: { metadata: { labels: { app: 'job' } }, spec: { restartPolicy: 'Never', containers: app } } } },
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: ns }, spec: { serviceName: 'db', replicas: 1, selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: app } } } },
    ] }) });
    for (const selector of ['app=bare', 'app=job', 'app=db']) {
      const [pod] = await waitForPods(ns, selector, 1);
      expectInjectedNative(pod as StoredPod);
    }
  });

  it('answers the reinvocation the ServiceAccount plugin causes with no change (injection is idempotent)', () => {
    // In round 0 the API server's ServiceAccount plugin mounts the token into the containers we added;
    // reinvocationPolicy IfNeeded then calls us again (round 1), and we must not undo that change.
    const rounds = webhookRounds(ns, 'bare');
    expect(rounds).toEqual([
      { round: 0, configuration: 'outrigger-injector', mutated: true },
      { round: 1, configuration: 'outrigger-injector', mutated: false },
    ]);
    const stored = JSON.parse(cluster.kubectlOk(['get', 'pod', 'bare', '-n', ns, '-o', 'json'])) as { spec: { initContainers: (Container & { volumeMounts?: { mountPath: string }[] })[] } };
    const proxy = stored.spec.initContainers.find((c) => c.name === 'proxy');
    expect((proxy?.volumeMounts ?? []).map((m) => m.mountPath)).toContain('/var/run/secrets/kubernetes.io/serviceaccount');
  });

  it('does not inject: an unlabelled namespace, the pod label sidecar.istio.io/inject=false, hostNetwork, kube-system', async () => {
    await createNamespace(cluster, 'plain', {});
    cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      deployment('plain', 'plain'),
      deployment('opted-out', ns, {}, { 'sidecar.istio.io/inject': 'false' }),
      deployment('host', ns, { hostNetwork: true }),
      deployment('system', 'kube-system'),
    ] }) });
    expectNotInjected((await waitForPods('plain', 'app=plain', 1))[0] as StoredPod);
    expectNotInjected((await waitForPods(ns, 'app=opted-out', 1))[0] as StoredPod);
    expectNotInjected((await waitForPods(ns, 'app=host', 1))[0] as StoredPod);
    expectNotInjected((await waitForPods('kube-system', 'app=system', 1))[0] as StoredPod);
  });

  it('refuses a pod with a bad traffic annotation or running as UID 1337, naming every cause in kubectl\'s error', () => {
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad', namespace: ns, annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '80,99999', 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/33' } },
      spec: { containers: [{ name: 'app', image: 'outrigger/test-app:0.1.0', securityContext: { runAsUser: 1337 } }] },
    };
    const result = cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('admission webhook "sidecar-injector.outrigger.io" denied the request');
    expect(result.stderr).toContain('excludeOutboundPorts');
    expect(result.stderr).toContain('99999');
    expect(result.stderr).toContain('includeOutboundIPRanges');
    expect(result.stderr).toContain('1337');
    expect(cluster.kubectl(['get', 'pod', 'bad', '-n', ns]).status).not.toBe(0);
  });
});

describe('warnings through the API server', () => {
  it('kubectl prints the webhook\'s warning for a setting accepted with a fallback (sidecar.istio.io/inject: "yes")', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'warned', namespace: ns, annotations: { 'sidecar.istio.io/inject': 'yes' } }, spec: { containers: [{ name: 'app', image: 'outrigger/test-app:0.1.0' }] } };
    const result = cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^Warning: .*sidecar\.istio\.io\/inject.*yes/m);
    // Current Istio's rule: not "true"/"false", so the namespace's default applies (inject here).
    expectInjectedNative(JSON.parse(cluster.kubectlOk(['get', 'pod', 'warned', '-n', ns, '-o', 'json'])) as StoredPod);
  });
});

describe('reinvocation after a second mutating webhook', () => {
  let second: SecondWebhook;
  beforeAll(async () => {
    second = await startSecondWebhook(cluster);
  }, 60_000);
  afterAll(async () => {
    await second?.stop();
  });

  it('keeps the final pod correct and injection idempotent when a later webhook adds a container', async () => {
    await createNamespace(cluster, 'reinvoke');
    // A bare Pod with a fixed name: the audit event of a generateName create carries no name.
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'reinvoked', namespace: 'reinvoke', labels: { app: 'reinvoked' } }, spec: { containers: [{ name: 'app', image: 'outrigger/test-app:0.1.0' }] } };
    cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    const [created] = await waitForPods('reinvoke', 'app=reinvoked', 1);
    const stored = created as StoredPod;
    expectInjectedNative(stored);
    expect(names(stored.spec.containers)).toContain(second.containerName);
    const all = [...names(stored.spec.initContainers), ...names(stored.spec.containers)];
    expect(all.filter((n) => n === 'proxy')).toHaveLength(1);
    expect(all.filter((n) => n === 'proxy-init')).toHaveLength(1);
    expect(second.calls()).toBeGreaterThan(0);
    // Reinvoked: the audit event of this pod's create records each webhook call by round
    // (mutation.webhook.admission.k8s.io/round_R_index_I): outrigger's in round 0, the second webhook's,
    // and outrigger's again in round 1.
    const calls = webhookRounds('reinvoke', stored.metadata.name);
    expect(calls).toContainEqual({ round: 0, configuration: 'outrigger-injector', mutated: true });
    expect(calls).toContainEqual({ round: 0, configuration: 'zz-second-webhook', mutated: true });
    expect(calls.filter((c) => c.round === 1 && c.configuration === 'outrigger-injector')).toHaveLength(1);
  });
});

describe('offline injection', () => {
  it('`outrigger inject -f deploy.yaml | kubectl apply -f -` creates injected pods (unlabelled namespace: only the offline injection applies)', async () => {
    await createNamespace(cluster, 'offline', {});
    const input = JSON.stringify(deployment('offline', 'offline'));
    const injected = run(process.execPath, [cliPath, 'inject', '-f', '-'], { input });
    expect(injected.status, injected.stderr).toBe(0);
    cluster.kubectlOk(['apply', '-f', '-'], { input: injected.stdout });
    const [pod] = await waitForPods('offline', 'app=offline', 1);
    expectInjectedNative(pod as StoredPod);
  });

  it('an offline-injected Deployment applied to a labelled namespace is not injected twice', async () => {
    const input = JSON.stringify(deployment('twice', ns));
    const injected = run(process.execPath, [cliPath, 'inject', '-f', '-'], { input });
    expect(injected.status, injected.stderr).toBe(0);
    cluster.kubectlOk(['apply', '-f', '-'], { input: injected.stdout });
    const [pod] = await waitForPods(ns, 'app=twice', 1);
    const stored = pod as StoredPod;
    expectInjectedNative(stored);
    const all = [...names(stored.spec.initContainers), ...names(stored.spec.containers)];
    expect(all.filter((n) => n === 'proxy')).toHaveLength(1);
  });
});

it('kept both local replicas serving (sanity of the stand-in)', () => {
  expect(injectors.replicas).toHaveLength(2);
});
