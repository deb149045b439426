// The injector over real HTTPS: a real listening server on 127.0.0.1 with a certificate from a
// test CA, and a client that trusts only that CA. Realistic AdmissionReviews (v1 and v1beta1);
// every patch is applied with the independent rfc6902 package and the patched pod is validated
// against the Kubernetes Pod schema (kubernetes-models). Also: skips, denials, pass-throughs,
// every HTTP error status, health/readiness/metrics, TLS versions.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonPatchOperation } from '../../injector/kube/pod-types.js';
import type { InjectorServer } from '../../injector/server/injector-server.js';
import { admissionReview, deploymentPod, hugePod } from '../helpers/admission-requests.js';
import { applyIndependently, validateKubernetesPod } from '../helpers/injector-checks.js';
import { httpsRequest, memoryLogger, postJson, startFilesModeInjector, type TestPki, testPki, writeAtomically } from '../helpers/injector-https.js';

let dir: string;
let pki: TestPki;
let server: InjectorServer;
const logs = memoryLogger();

interface ReviewOut {
  apiVersion: string;
  kind: string;
  response: { uid: string; allowed: boolean; patch?: string; patchType?: string; status?: { code: number; reason: string; message: string; status: string } };
}

function decodePatch(review: ReviewOut): JsonPatchOperation[] {
  expect(review.response.patchType).toBe('JSONPatch');
  return JSON.parse(Buffer.from(review.response.patch ?? '', 'base64').toString('utf8')) as JsonPatchOperation[];
}

async function admit(body: Record<string, unknown>): Promise<ReviewOut> {
  const result = await postJson(server.port, pki.ca.cert, body);
  expect(result.status, result.text).toBe(200);
  expect(result.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(result.text) as ReviewOut;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'or-injector-'));
  pki = await testPki();
  writeAtomically(join(dir, 'tls'), { 'tls.crt': pki.serving.cert, 'tls.key': pki.serving.key });
  server = await startFilesModeInjector({ tlsDir: join(dir, 'tls'), log: logs.log });
});

afterAll(async () => {
  await server?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('admission over HTTPS', () => {
  for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const) {
    it(`injects a Deployment's pod (${apiVersion}): uid and apiVersion echoed, patch applies and yields a valid Pod`, async () => {
      const pod = deploymentPod();
      const request = admissionReview(pod, { apiVersion });
      const review = await admit(request);
      expect(review.apiVersion).toBe(apiVersion);
      expect(review.kind).toBe('AdmissionReview');
      expect(review.response.uid).toBe((request.request as { uid: string }).uid);
      expect(review.response.allowed).toBe(true);
      const patched = applyIndependently(pod, decodePatch(review)) as { spec: { initContainers: { name: string; restartPolicy?: string }[]; containers: { name: string }[] }; metadata: { annotations: Record<string, string> } };
      validateKubernetesPod(patched);
      // Native sidecar by default: proxy-init, then the proxy as an always-restarting init container.
      expect(patched.spec.initContainers.map((c) => c.name)).toEqual(['proxy-init', 'proxy']);
      expect(patched.spec.initContainers[1]?.restartPolicy).toBe('Always');
      expect(patched.spec.containers.map((c) => c.name)).toEqual(['web']);
      expect(patched.metadata.annotations['sidecar.istio.io/status']).toBeDefined();
    });
  }

  it('injects a huge pod (2,000 env vars, ~64 KB) with a patch that applies and validates', async () => {
    const pod = hugePod();
    const size = JSON.stringify(pod).length;
    expect(size).toBeGreaterThan(55_000);
    expect(size).toBeLessThan(80_000);
    const review = await admit(admissionReview(pod));
    const patched = applyIndependently(pod, decodePatch(review)) as { spec: { containers: { env: unknown[] }[] } };
    validateKubernetesPod(patched);
    expect(patched.spec.containers[0]?.env).toHaveLength(2000);
  });

  it('skips without a patch: pod label sidecar.istio.io/inject=false, a system namespace, host network', async () => {
    const cases = [
      admissionReview(deploymentPod({ labels: { 'sidecar.istio.io/inject': 'false' } })),
      admissionReview(deploymentPod({ namespace: 'kube-system' }), { namespace: 'kube-system' }),
      admissionReview({ ...deploymentPod(), spec: { ...(deploymentPod().spec as object), hostNetwork: true } }),
    ];
    for (const request of cases) {
      const review = await admit(request);
      expect(review.response).toEqual({ uid: (request.request as { uid: string }).uid, allowed: true });
    }
  });

  it('denies a pod running as the proxy UID 1337 and one with bad traffic annotations, naming each cause', async () => {
    const pod = deploymentPod();
    (pod.spec as { securityContext: object }).securityContext = { runAsUser: 1337 };
    const uid1337 = await admit(admissionReview(pod));
    expect(uid1337.response.allowed).toBe(false);
    expect(uid1337.response.status).toMatchObject({ status: 'Failure', code: 400, reason: 'BadRequest' });
    expect(uid1337.response.status?.message).toMatch(/1337/);
    expect(uid1337.response.patch).toBeUndefined();

    const annotated = await admit(
      admissionReview(deploymentPod({ annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '99999', 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/33' } })),
    );
    expect(annotated.response.allowed).toBe(false);
    expect(annotated.response.status?.message).toContain('traffic.sidecar.istio.io/excludeOutboundPorts');
    expect(annotated.response.status?.message).toContain('traffic.sidecar.istio.io/includeOutboundIPRanges');
  });

  it('allows DELETE, UPDATE, CONNECT, other kinds and pod subresources unchanged', async () => {
    const cases = [
      admissionReview(null, { operation: 'DELETE' }),
      admissionReview(deploymentPod(), { operation: 'UPDATE' }),
      admissionReview({ apiVersion: 'v1', kind: 'PodExecOptions' }, { operation: 'CONNECT', subResource: 'exec' }),
      admissionReview({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: {} }, { kind: 'Service', resource: 'services' }),
      admissionReview(deploymentPod(), { subResource: 'ephemeralcontainers' }),
    ];
    for (const request of cases) {
      const review = await admit(request);
      expect(review.response).toEqual({ uid: (request.request as { uid: string }).uid, allowed: true });
    }
  });
});

describe('bad input never crashes the server', () => {
  const status = (text: string) => JSON.parse(text) as { kind: string; code: number; reason: string; message: string };

  it('413 for a body over 6 MiB', async () => {
    const body = Buffer.alloc(6 * 1024 * 1024 + 1, 0x20);
    const result = await httpsRequest(server.port, pki.ca.cert, { method: 'POST', path: '/inject', headers: { 'content-type': 'application/json' }, body });
    expect(result.status).toBe(413);
    expect(status(result.text)).toMatchObject({ kind: 'Status', code: 413, reason: 'RequestEntityTooLarge' });
  });

  it('400 for an empty body, with or without a content type', async () => {
    for (const headers of [{ 'content-type': 'application/json' }, {} as Record<string, string>]) {
      const result = await httpsRequest(server.port, pki.ca.cert, { method: 'POST', path: '/inject', headers, body: '' });
      expect(result.status).toBe(400);
      expect(status(result.text).message).toMatch(/empty request body/);
    }
  });

  it('415 for a content type other than JSON', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/yaml']) {
      const result = await httpsRequest(server.port, pki.ca.cert, { method: 'POST', path: '/inject', headers: { 'content-type': type }, body: 'kind: AdmissionReview' });
      expect(result.status).toBe(415);
      expect(status(result.text)).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });
      expect(status(result.text).message).toContain(type);
    }
  });

  it('400 with a message for malformed JSON and for JSON that is not an AdmissionReview', async () => {
    const malformed = await httpsRequest(server.port, pki.ca.cert, { method: 'POST', path: '/inject', headers: { 'content-type': 'application/json' }, body: '{"apiVersion": ' });
    expect(malformed.status).toBe(400);
    expect(status(malformed.text).message).toMatch(/not valid JSON/);

    const notReview = await postJson(server.port, pki.ca.cert, { apiVersion: 'v1', kind: 'Pod', request: { uid: 7 } });
    expect(notReview.status).toBe(400);
    const message = status(notReview.text).message;
    for (const field of ['kind', 'apiVersion', 'request.uid', 'request.kind', 'request.resource', 'request.operation']) expect(message).toContain(`${field} `);

    const array = await postJson(server.port, pki.ca.cert, [1, 2]);
    expect(array.status).toBe(400);
    const poisoned = await httpsRequest(server.port, pki.ca.cert, { method: 'POST', path: '/inject', headers: { 'content-type': 'application/json' }, body: '{"__proto__": {"x": 1}}' });
    expect(poisoned.status).toBe(400);
  });

  it('still serves after all of that, and counts it in /metrics', async () => {
    const review = await admit(admissionReview(deploymentPod()));
    expect(review.response.allowed).toBe(true);
    const metrics = await httpsRequest(server.port, pki.ca.cert, { path: '/metrics' });
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    const value = (line: RegExp): number => Number(metrics.text.split('\n').find((l) => line.test(l))?.split(' ').pop() ?? NaN);
    expect(value(/^outrigger_injector_errors_total\{kind="body_too_large"\}/)).toBe(1);
    expect(value(/^outrigger_injector_errors_total\{kind="unsupported_media_type"\}/)).toBe(3);
    expect(value(/^outrigger_injector_injections_total /)).toBeGreaterThanOrEqual(4);
    expect(value(/^outrigger_injector_skips_total\{reason="labelDisabled"\}/)).toBe(1);
    expect(value(/^outrigger_injector_skips_total\{reason="systemNamespace"\}/)).toBe(1);
    expect(value(/^outrigger_injector_skips_total\{reason="hostNetwork"\}/)).toBe(1);
    expect(value(/^outrigger_injector_skips_total\{reason="notPodCreation"\}/)).toBe(5);
    expect(value(/^outrigger_injector_denials_total\{code="INVALID_INPUT"\}/)).toBe(2);
    expect(value(/^outrigger_injector_requests_total\{outcome="injected",api_version="admission.k8s.io\/v1beta1"\}/)).toBe(1);
    expect(value(/^outrigger_injector_admission_duration_seconds_count\{outcome="injected"\}/)).toBeGreaterThanOrEqual(4);
    expect(metrics.text).toContain('outrigger_injector_certificate_expiry_timestamp_seconds');
  });
});

describe('health, readiness, TLS', () => {
  it('/healthz and /readyz answer 200', async () => {
    expect((await httpsRequest(server.port, pki.ca.cert, { path: '/healthz' })).status).toBe(200);
    expect((await httpsRequest(server.port, pki.ca.cert, { path: '/readyz' })).text).toBe('ready');
  });

  it('refuses TLS 1.1 and accepts TLS 1.2 and 1.3', async () => {
    const tls11 = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' } as const;
    // Control: this client does complete a TLS 1.1 handshake with a server that allows it.
    const control = createTlsServer({ cert: pki.serving.cert, key: pki.serving.key, ...tls11 }, (s) => s.end());
    control.listen(0, '127.0.0.1');
    await once(control, 'listening');
    const probe = tlsConnect({ host: '127.0.0.1', port: (control.address() as { port: number }).port, servername: 'localhost', ca: pki.ca.cert, ...tls11 });
    await once(probe, 'secureConnect');
    expect(probe.getProtocol()).toBe('TLSv1.1');
    probe.destroy();
    control.close();
    const old = httpsRequest(server.port, pki.ca.cert, { path: '/healthz', tls: tls11 });
    await expect(old).rejects.toThrow(/protocol version|unsupported protocol|alert/i);
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const ok = await httpsRequest(server.port, pki.ca.cert, { path: '/healthz', tls: { minVersion: version, maxVersion: version } });
      expect(ok.status).toBe(200);
    }
  });

  it('a client that does not trust the test CA is refused the handshake', async () => {
    const other = await testPki('another CA');
    await expect(httpsRequest(server.port, other.ca.cert, { path: '/healthz' })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it('logs no key material', () => {
    const all = logs.raw.join('\n');
    expect(all).not.toContain('PRIVATE KEY');
    expect(all).not.toContain(pki.serving.key.split('\n')[1]);
  });
});
