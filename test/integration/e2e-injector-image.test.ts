// End to end, the control-plane image: outrigger/outrigger runs `outrigger injector` with a rendered
// overlay's args, mounts and restricted securityContext (uid 65532, read-only root, no capabilities,
// no privilege escalation), its volumes filled as the kubelet would (the ConfigMap's config.yaml; for
// cert-manager tls.crt/tls.key with the Secret volume's mode and the pod's fsGroup), and answers over
// HTTPS: health, readiness and a real AdmissionReview.
//  - cert-manager overlay: files TLS mode, no API access at all.
//  - default overlay: self-managed TLS against a Kubernetes API STAND-IN (test/helpers/kube-api-stand-in.ts:
//    no API server exists here); the only addition to the rendered args is --kubeconfig (in a cluster the
//    service account token is used). Every API call the injector made is checked against the rendered
//    RBAC bound to its ServiceAccount: the roles are both sufficient and used.
// Host network on a random loopback port for the test's client. Needs root and podman; fails with the
// reason otherwise.
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeApiStandIn, startKubeApiStandIn } from '../helpers/kube-api-stand-in.js';
import { type KubeObject, loadObjects, type Overlay, renderOverlay } from '../helpers/manifests.js';
import { containerStatusField, createPodmanSetup, type PodmanSetup, podman, podmanOk, run, runOk } from '../helpers/podman.js';
import { allowed, type PolicyRule, resourceRequest } from '../helpers/rbac.js';

let dir = '';
let setup: PodmanSetup | undefined;
const started: string[] = [];

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('this test runs containers with podman and needs root; run npm test as root');
  if (run('sh', ['-c', 'command -v podman']).status !== 0) throw new Error('podman is not installed: run bash scripts/setup-host.sh');
  runOk('bash', ['scripts/build-images.sh'], { timeoutMs: 1_500_000 });
  dir = mkdtempSync(join(tmpdir(), 'outrigger-e2e-injector-'));
  setup = createPodmanSetup(dir);
}, 1_800_000);

afterAll(() => {
  if (setup) for (const name of started) podman(setup, ['rm', '--force', '--time', '0', name]);
  // Retried: conmon and podman's cleanup may still be writing there just after `rm --force` returns.
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
});

interface RunningInjector {
  readonly name: string;
  readonly port: number;
  readonly objects: KubeObject[];
}

/**
 * Runs the overlay's injector container as its Deployment says. `files` fills volumes by name (the
 * ConfigMap volume is filled from the rendered ConfigMap); emptyDirs become tmpfs.
 */
function runInjector(overlay: Overlay, files: Record<string, Record<string, string>>, extraArgs: string[] = [], extraMounts: string[] = []): RunningInjector {
  if (!setup) throw new Error('the podman setup did not come up (see the first failure)');
  const objects = loadObjects(renderOverlay(overlay));
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'outrigger-injector');
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'outrigger-injector');
  if (!deployment || !configMap) throw new Error(`no injector Deployment or ConfigMap in the ${overlay} overlay`);
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
  const sources: Record<string, Record<string, string>> = { config: configMap.data as Record<string, string>, ...files };
  const mounts: string[] = [];
  for (const mount of container.volumeMounts as { name: string; mountPath: string }[]) {
    const volume = (pod.volumes as { name: string; emptyDir?: object; secret?: { defaultMode?: number } }[]).find((v) => v.name === mount.name);
    if (volume?.emptyDir) {
      mounts.push('--tmpfs', `${mount.mountPath}:size=16m`);
      continue;
    }
    const content = sources[mount.name];
    if (!content) throw new Error(`no test content for volume ${mount.name}`);
    const hostDir = join(dir, `${overlay}-volume-${mount.name}`);
    mkdirSync(hostDir, { recursive: true });
    for (const [file, text] of Object.entries(content)) {
      writeFileSync(join(hostDir, file), text);
      chmodSync(join(hostDir, file), volume?.secret?.defaultMode ?? 0o644);
      chownSync(join(hostDir, file), 0, pod.securityContext.fsGroup);
    }
    mounts.push('-v', `${hostDir}:${mount.mountPath}:ro`);
  }
  const name = `injector-${overlay}-${randomBytes(3).toString('hex')}`;
  const port = randomInt(20_000, 40_000);
  const args = (container.args as string[]).map((a) => (a.startsWith('--port=') ? `--port=${port}` : a));
  started.push(name);
  podmanOk(setup, [
    'run', '--detach', '--name', name, '--network', 'host',
    '--user', `${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`, '--group-add', String(pod.securityContext.fsGroup),
    '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', ...mounts, ...extraMounts,
    container.image, ...args, '--address=127.0.0.1', ...extraArgs,
  ]);
  return { name, port, objects };
}

async function waitReady(injector: RunningInjector, ca: () => string | undefined, servername: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const trusted = ca();
    const ready = trusted ? await httpsCall(injector.port, 'GET', '/readyz', trusted, servername).catch(() => undefined) : undefined;
    if (ready?.status === 200) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the injector container did not become ready: ${setup ? podman(setup, ['logs', injector.name]).stderr : ''}`);
}

function expectRestricted(name: string): void {
  expect(containerStatusField(setup as PodmanSetup, name, 'Uid')).toBe('65532');
  expect(containerStatusField(setup as PodmanSetup, name, 'CapEff')).toBe('0000000000000000');
  expect(containerStatusField(setup as PodmanSetup, name, 'NoNewPrivs')).toBe('1');
}

async function expectInjects(port: number, ca: string, servername: string): Promise<void> {
  const review = {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid: '5a1f0c1e-0000-4000-8000-000000000001', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop', operation: 'CREATE', userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'web-', namespace: 'shop' }, spec: { containers: [{ name: 'web', image: 'web:1' }] } },
    },
  };
  const answer = await httpsCall(port, 'POST', '/inject', ca, servername, review);
  expect(answer.status).toBe(200);
  const response = (JSON.parse(answer.text) as { response: { uid: string; allowed: boolean; patchType: string; patch: string } }).response;
  expect(response).toMatchObject({ uid: review.request.uid, allowed: true, patchType: 'JSONPatch' });
  const added = Buffer.from(response.patch, 'base64').toString('utf8');
  expect(added).toContain('"name":"proxy-init"');
  expect(added).toContain('"image":"outrigger/proxy-init:0.1.0"');
  expect(added).toContain('"image":"docker.io/envoyproxy/envoy:v1.36.2"');
}

describe('cert-manager overlay: the image serves the issued certificate from files', () => {
  let injector: RunningInjector;
  let ca = '';

  beforeAll(async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 86_400_000), extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }] });
    ca = pems.cert;
    injector = runInjector('cert-manager', { tls: { 'tls.crt': pems.cert, 'tls.key': pems.private } });
    await waitReady(injector, () => ca, 'localhost');
  }, 120_000);

  it('serves /readyz and /healthz over TLS 1.2+ as uid 65532 with no capabilities', async () => {
    const ready = await httpsCall(injector.port, 'GET', '/readyz', ca, 'localhost');
    expect(ready.status).toBe(200);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(ready.tls);
    expect((await httpsCall(injector.port, 'GET', '/healthz', ca, 'localhost')).status).toBe(200);
    expectRestricted(injector.name);
  });

  it('answers an AdmissionReview for a pod with the proxy-init and proxy patch, from the shipped ConfigMap', async () => {
    await expectInjects(injector.port, ca, 'localhost');
  });
});

describe('default overlay: self-managed TLS against the API stand-in, within the rendered RBAC', () => {
  let injector: RunningInjector;
  let api: KubeApiStandIn;
  const serviceName = 'outrigger-injector.outrigger.svc';
  const caBundle = (): string | undefined => {
    const hook = api.webhookConfigs.get('outrigger-injector') as { webhooks?: { clientConfig?: { caBundle?: string } }[] } | undefined;
    const bundle = hook?.webhooks?.[0]?.clientConfig?.caBundle;
    return bundle ? Buffer.from(bundle, 'base64').toString('utf8') : undefined;
  };

  beforeAll(async () => {
    api = await startKubeApiStandIn();
    const objects = loadObjects(renderOverlay('default'));
    const webhook = objects.find((o) => o.kind === 'MutatingWebhookConfiguration');
    if (!webhook) throw new Error('no webhook in the default overlay');
    api.webhookConfigs.set('outrigger-injector', { ...webhook, metadata: { ...webhook.metadata, resourceVersion: '1' } });
    const kubeDir = join(dir, 'kube');
    mkdirSync(kubeDir, { recursive: true });
    api.writeKubeconfig(join(kubeDir, 'kubeconfig'));
    chownSync(join(kubeDir, 'kubeconfig'), 65532, 65532);
    injector = runInjector('default', {}, ['--kubeconfig=/etc/outrigger/kube/kubeconfig'], ['-v', `${kubeDir}:/etc/outrigger/kube:ro`]);
    // Ready once it has its certificate; the client trusts only the CA it wrote into the webhook.
    await waitReady(injector, caBundle, serviceName);
  }, 120_000);

  afterAll(async () => {
    await api?.close();
  });

  it('created its Secret, patched the caBundle, and serves a certificate for the Service name trusted by it', async () => {
    expect([...api.secrets.keys()].some((k) => k.endsWith('outrigger-injector-tls'))).toBe(true);
    const ready = await httpsCall(injector.port, 'GET', '/readyz', caBundle() as string, serviceName);
    expect(ready.status).toBe(200);
    expectRestricted(injector.name);
    await expectInjects(injector.port, caBundle() as string, serviceName);
  });

  it('made only API calls that the RBAC bound to its ServiceAccount allows, and no unexpected ones', () => {
    expect(api.unexpected).toEqual([]);
    expect(api.calls.length).toBeGreaterThan(0);
    const objects = injector.objects;
    const bound = objects
      .filter((o) => (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') && (o.subjects as { kind: string; name: string }[]).some((s) => s.kind === 'ServiceAccount' && s.name === 'outrigger-injector'))
      .map((b) => objects.find((r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name))
      .filter((r): r is KubeObject => r !== undefined)
      .map((r) => ({ kind: r.kind, ...(r.metadata.namespace ? { namespace: r.metadata.namespace } : {}), rules: r.rules as PolicyRule[] }));
    expect(bound.length).toBe(2);
    const denied = api.calls.map((c) => ({ call: `${c.method} ${c.path}`, request: resourceRequest(c.method, c.path) })).filter((c) => !allowed(c.request, bound));
    expect(denied).toEqual([]);
    // And the evaluator can say no: the same calls for another Secret or another webhook are denied.
    expect(allowed(resourceRequest('GET', '/api/v1/namespaces/outrigger/secrets/other'), bound)).toBe(false);
    expect(allowed(resourceRequest('GET', '/api/v1/namespaces/shop/secrets/outrigger-injector-tls'), bound)).toBe(false);
    expect(allowed(resourceRequest('PATCH', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/other'), bound)).toBe(false);
  });
});

interface HttpsAnswer {
  status: number;
  text: string;
  tls: string;
}

function httpsCall(port: number, method: string, path: string, ca: string, servername: string, body?: unknown): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    let tls = 'unknown';
    const req = httpsRequest({ host: '127.0.0.1', port, method, path, servername, ca, minVersion: 'TLSv1.2', timeout: 5000, agent: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      tls = (res.socket as TLSSocket | null)?.getProtocol?.() ?? tls;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, tls }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}
