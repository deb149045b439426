// Property tests (fast-check) against the real HTTPS server: whatever the body, the injector
// answers, never with a 5xx, and keeps serving. Random bytes and random JSON get a 4xx; random
// AdmissionReviews with random pod shapes, labels and traffic annotations get either a 400 or an
// AdmissionReview echoing the uid whose patch (if any) applies with the independent rfc6902.
// Runs are bounded (counts and a per-request timeout).
import { Agent } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectorServer } from '../../injector/server/injector-server.js';
import type { JsonPatchOperation } from '../../injector/kube/pod-types.js';
import { admissionReview, deploymentPod } from '../helpers/admission-requests.js';
import { applyIndependently } from '../helpers/injector-checks.js';
import { httpsRequest, memoryLogger, startFilesModeInjector, type TestPki, testPki, writeAtomically } from '../helpers/injector-https.js';

let dir: string;
let pki: TestPki;
let server: InjectorServer;
const agent = new Agent({ keepAlive: true, maxSockets: 4 });
const logs = memoryLogger('error');

const post = (body: string | Buffer, contentType = 'application/json') =>
  httpsRequest(server.port, pki.ca.cert, { method: 'POST', path: '/inject', headers: { 'content-type': contentType }, body, tls: { agent } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'or-injector-prop-'));
  pki = await testPki();
  writeAtomically(join(dir, 'tls'), { 'tls.crt': pki.serving.cert, 'tls.key': pki.serving.key });
  server = await startFilesModeInjector({ tlsDir: join(dir, 'tls'), log: logs.log });
});

afterAll(async () => {
  agent.destroy();
  await server?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

const TrafficAnnotationKeys = [
  'traffic.sidecar.istio.io/includeOutboundIPRanges',
  'traffic.sidecar.istio.io/excludeOutboundIPRanges',
  'traffic.sidecar.istio.io/includeInboundPorts',
  'traffic.sidecar.istio.io/excludeInboundPorts',
  'traffic.sidecar.istio.io/includeOutboundPorts',
  'traffic.sidecar.istio.io/excludeOutboundPorts',
  'traffic.sidecar.istio.io/excludeInterfaces',
  'traffic.sidecar.istio.io/kubevirtInterfaces',
  'sidecar.istio.io/interceptionMode',
  'status.sidecar.istio.io/port',
  'sidecar.istio.io/inject',
  'sidecar.istio.io/nativeSidecar',
  'sidecar.istio.io/status',
];
const annotationValue = fc.oneof(
  fc.constantFrom('', '*', 'true', 'false', '15001', '0', '99999', '10.0.0.0/8', '10.0.0.0/33', '2001:db8::/32', 'TPROXY', 'REDIRECT', 'NONE', 'eth0', '1,2,3', ' , ', '-1'),
  fc.string({ maxLength: 20 }),
);
/** Often absent, so that a good share of the generated pods are injectable. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, absent: T): fc.Arbitrary<T> => fc.oneof({ weight: 2, arbitrary: fc.constant(absent) }, { weight: 1, arbitrary });
const pod = fc
  .record({
    annotations: sometimes(fc.dictionary(fc.constantFrom(...TrafficAnnotationKeys), annotationValue, { maxKeys: 3 }), {}),
    labels: sometimes(fc.dictionary(fc.constantFrom('sidecar.istio.io/inject', 'app', 'team'), fc.constantFrom('true', 'false', 'x', ''), { maxKeys: 2 }), {}),
    hostNetwork: sometimes(fc.option(fc.boolean(), { nil: undefined }), undefined),
    runAsUser: sometimes(fc.option(fc.constantFrom(0, 1000, 1337), { nil: undefined }), undefined),
    env: fc.nat({ max: 20 }),
    mangle: sometimes(fc.option(fc.constantFrom('no-spec', 'containers-null', 'containers-object', 'metadata-string', 'extra-init', 'no-containers'), { nil: undefined }), undefined),
  })
  .map(({ annotations, labels, hostNetwork, runAsUser, env, mangle }) => {
    const p = deploymentPod({ annotations, labels, env }) as Record<string, any>;
    if (hostNetwork !== undefined) p.spec.hostNetwork = hostNetwork;
    if (runAsUser !== undefined) p.spec.containers[0].securityContext = { runAsUser };
    if (mangle === 'no-spec') delete p.spec;
    if (mangle === 'containers-null') p.spec.containers = null;
    if (mangle === 'containers-object') p.spec.containers = { name: 'x' };
    if (mangle === 'metadata-string') p.metadata = 'pod';
    if (mangle === 'extra-init') p.spec.initContainers = [{ name: 'migrate', image: 'busybox', command: ['true'] }];
    if (mangle === 'no-containers') p.spec.containers = [];
    return p;
  });
const review = fc.record({
  pod: fc.oneof({ weight: 4, arbitrary: pod }, { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) }),
  apiVersion: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1') },
    { weight: 1, arbitrary: fc.constantFrom('admission.k8s.io/v2', '', 'v1') },
  ),
  operation: fc.oneof({ weight: 6, arbitrary: fc.constant('CREATE') }, { weight: 1, arbitrary: fc.constantFrom('UPDATE', 'DELETE', 'CONNECT', 'PATCH') }),
  namespace: fc.constantFrom('shop', 'kube-system', 'default', ''),
  // Mostly whole envelopes; sometimes one required part missing.
  drop: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('uid', 'kind', 'resource', 'request') }),
});

describe('the injector never answers 5xx', () => {
  it('random bytes and random content types', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream'), async (bytes, type) => {
        const result = await post(Buffer.from(bytes), type);
        expect(result.status).toBeGreaterThanOrEqual(200);
        expect(result.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });

  it('random JSON values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (value) => {
        const result = await post(JSON.stringify(value) ?? 'null');
        expect(result.status).toBe(400);
      }),
      { numRuns: 150 },
    );
  });

  it('random AdmissionReviews: 400 or an AdmissionReview with the uid echoed and a patch that applies', async () => {
    let injected = 0;
    let denied = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(review, async ({ pod, apiVersion, operation, namespace, drop }) => {
        const body = admissionReview(pod, { apiVersion: apiVersion as 'admission.k8s.io/v1', operation, namespace }) as Record<string, any>;
        if (drop === 'request') delete body.request;
        else if (drop) delete body.request[drop];
        const result = await post(JSON.stringify(body));
        expect(result.status, result.text).not.toBeGreaterThanOrEqual(500);
        if (result.status !== 200) {
          rejected++;
          expect(result.status).toBe(400);
          return;
        }
        const answer = JSON.parse(result.text) as { apiVersion: string; response: { uid: string; allowed: boolean; patch?: string; status?: { message: string } } };
        expect(answer.apiVersion).toBe(apiVersion);
        expect(answer.response.uid).toBe(body.request.uid);
        if (!answer.response.allowed) {
          denied++;
          expect(answer.response.status?.message.length).toBeGreaterThan(0);
        }
        if (answer.response.patch) {
          injected++;
          expect(answer.response.allowed).toBe(true);
          const patch = JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')) as JsonPatchOperation[];
          applyIndependently(pod, patch);
        }
      }),
      { numRuns: 250 },
    );
    // The generator must exercise every branch, or the property proves little (typically ~50 and ~60).
    expect(injected).toBeGreaterThan(15);
    expect(denied).toBeGreaterThan(15);
    expect(rejected).toBeGreaterThan(15);
    if (process.env.OUTRIGGER_PROPERTY_STATS) console.log({ injected, denied, rejected });
  });

  it('is still serving afterwards, with no internal errors logged', async () => {
    expect((await httpsRequest(server.port, pki.ca.cert, { path: '/healthz' })).status).toBe(200);
    const metrics = await httpsRequest(server.port, pki.ca.cert, { path: '/metrics' });
    expect(metrics.text).not.toMatch(/outrigger_injector_errors_total\{kind="internal"\}/);
    expect(logs.lines.filter((l) => Number(l.level) >= 50)).toEqual([]);
  });
});
