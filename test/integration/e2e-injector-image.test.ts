// End to end, the control-plane image: outrigger/outrigger runs `outrigger injector` with the cert-manager
// overlay's rendered args, mounts and restricted securityContext (uid 65532, read-only root, no
// capabilities, no privilege escalation), its volumes filled as the kubelet would (the ConfigMap's
// config.yaml; tls.crt/tls.key with the Secret volume's mode and the pod's fsGroup), and answers over
// HTTPS: health, readiness, and a real AdmissionReview. Host network on a random loopback port for the
// test's client. Needs root and podman; fails with the reason otherwise.
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadObjects, renderOverlay } from '../helpers/manifests.js';
import { containerStatusField, createPodmanSetup, type PodmanSetup, podman, podmanOk, run, runOk } from '../helpers/podman.js';

let dir = '';
let setup: PodmanSetup | undefined;

describe('the outrigger image runs the injector as the rendered Deployment does', () => {
  let name = '';
  let port = 0;
  let ca = '';

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test runs containers with podman and needs root; run npm test as root');
    if (run('sh', ['-c', 'command -v podman']).status !== 0) throw new Error('podman is not installed: run bash scripts/setup-host.sh');
    runOk('bash', ['scripts/build-images.sh'], { timeoutMs: 1_500_000 });
    dir = mkdtempSync(join(tmpdir(), 'outrigger-e2e-injector-'));
    setup = createPodmanSetup(dir);
    name = `injector-${randomBytes(3).toString('hex')}`;
    const deployment = loadObjects(renderOverlay('cert-manager')).find((o) => o.kind === 'Deployment' && o.metadata.name === 'outrigger-injector');
    if (!deployment) throw new Error('no injector Deployment in the cert-manager overlay');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 86_400_000), extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }] });
    ca = pems.cert;
    // The volumes as the kubelet would fill them: the ConfigMap's keys, the Secret's tls.crt/tls.key
    // with the Secret volume's mode and the pod's fsGroup as their group.
    const configMap = loadObjects(renderOverlay('cert-manager')).find((o) => o.kind === 'ConfigMap');
    const sources: Record<string, Record<string, string>> = {
      config: configMap?.data as Record<string, string>,
      tls: { 'tls.crt': pems.cert, 'tls.key': pems.private },
    };
    const mounts: string[] = [];
    for (const mount of container.volumeMounts as { name: string; mountPath: string }[]) {
      const volume = (pod.volumes as { name: string; emptyDir?: object; secret?: { defaultMode?: number } }[]).find((v) => v.name === mount.name);
      if (volume?.emptyDir) {
        mounts.push('--tmpfs', `${mount.mountPath}:size=16m`);
        continue;
      }
      const files = sources[mount.name];
      if (!files) throw new Error(`no test content for volume ${mount.name}`);
      const hostDir = join(dir, `volume-${mount.name}`);
      mkdirSync(hostDir, { recursive: true });
      for (const [file, text] of Object.entries(files)) {
        writeFileSync(join(hostDir, file), text);
        chmodSync(join(hostDir, file), volume?.secret?.defaultMode ?? 0o644);
        chownSync(join(hostDir, file), 0, pod.securityContext.fsGroup);
      }
      mounts.push('-v', `${hostDir}:${mount.mountPath}:ro`);
    }
    port = randomInt(20_000, 40_000);
    const args = (container.args as string[]).map((a) => (a.startsWith('--port=') ? `--port=${port}` : a));
    const sc = container.securityContext;
    expect(sc).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    podmanOk(setup, [
      'run', '--detach', '--name', name, '--network', 'host',
      '--user', `${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`, '--group-add', String(pod.securityContext.fsGroup),
      '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', ...mounts,
      container.image, ...args, '--address=127.0.0.1',
    ]);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const ready = await httpsGet(port, '/readyz', ca).catch(() => undefined);
      if (ready?.status === 200) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the injector container did not become ready: ${podman(setup, ['logs', name]).stderr}`);
  }, 1_800_000);

  afterAll(() => {
    if (setup) podman(setup, ['rm', '--force', '--time', '0', name]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves /readyz and /healthz over TLS 1.2+ as uid 65532 with no capabilities', async () => {
    const ready = await httpsGet(port, '/readyz', ca);
    expect(ready.status).toBe(200);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(ready.tls);
    expect((await httpsGet(port, '/healthz', ca)).status).toBe(200);
    expect(containerStatusField(setup as PodmanSetup, name, 'Uid')).toBe('65532');
    expect(containerStatusField(setup as PodmanSetup, name, 'CapEff')).toBe('0000000000000000');
    expect(containerStatusField(setup as PodmanSetup, name, 'NoNewPrivs')).toBe('1');
  });

  it('answers an AdmissionReview for a pod with the proxy-init and proxy patch, from the shipped ConfigMap', async () => {
    const review = {
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      request: {
        uid: '5a1f0c1e-0000-4000-8000-000000000001', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'shop', operation: 'CREATE', userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'web-', namespace: 'shop' }, spec: { containers: [{ name: 'web', image: 'web:1' }] } },
      },
    };
    const answer = await httpsPost(port, '/inject', ca, review);
    expect(answer.status).toBe(200);
    const response = (JSON.parse(answer.text) as { response: { uid: string; allowed: boolean; patchType: string; patch: string } }).response;
    expect(response).toMatchObject({ uid: review.request.uid, allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as { path: string; value: unknown }[];
    const added = JSON.stringify(patch);
    expect(added).toContain('"name":"proxy-init"');
    expect(added).toContain('"image":"outrigger/proxy-init:0.1.0"');
    expect(added).toContain('"image":"docker.io/envoyproxy/envoy:v1.36.2"');
  });
});

interface HttpsAnswer {
  status: number;
  text: string;
  tls: string;
}

function httpsCall(port: number, method: string, path: string, ca: string, body?: unknown): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    let tls = 'unknown';
    const req = httpsRequest({ host: '127.0.0.1', port, method, path, servername: 'localhost', ca, minVersion: 'TLSv1.2', timeout: 5000, agent: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
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
const httpsGet = (port: number, path: string, ca: string) => httpsCall(port, 'GET', path, ca);
const httpsPost = (port: number, path: string, ca: string, body: unknown) => httpsCall(port, 'POST', path, ca, body);
