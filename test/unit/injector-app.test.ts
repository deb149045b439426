// The app plugin without sockets (fastify's inject): an internal error is HTTP 500 with a
// metav1.Status body and counted (the webhook's failurePolicy decides, see README), readiness
// follows the server's state, and a deny carrying an INTERNAL error from reviewPod is answered the
// same way instead of as a verdict on the pod.
import fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { Admit } from '../../injector/admission/admission-decision.js';
import { admitReview } from '../../injector/admission/admit-review.js';
import { DefaultInjectorConfig, type InjectorConfig } from '../../injector/config/injector-config.js';
import { createInjectorMetrics } from '../../injector/metrics/injector-metrics.js';
import { injectorApp } from '../../injector/server/injector-app.js';
import { admissionReview, deploymentPod } from '../helpers/admission-requests.js';

async function app(admit: Admit, ready = true) {
  const metrics = createInjectorMetrics({ defaultMetrics: false });
  const instance = fastify({ logger: false });
  await instance.register(injectorApp, { admit, metrics, isReady: () => ready });
  return { instance, metrics };
}

describe('injector app', () => {
  it('answers a bug with HTTP 500 and a Status naming the uid, and counts it', async () => {
    const { instance, metrics } = await app(() => {
      throw new TypeError('boom');
    });
    const body = admissionReview(deploymentPod(), { uid: 'uid-500' });
    const res = await instance.inject({ method: 'POST', url: '/inject?timeout=10s', payload: body });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'InternalError', code: 500 });
    expect(res.json().message).toContain('uid-500');
    expect(res.json().message).not.toContain('boom');
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/outrigger_injector_errors_total\{kind="internal"\} 1/);
    expect(text).toMatch(/outrigger_injector_requests_total\{outcome="error",api_version="admission.k8s.io\/v1"\} 1/);
    await instance.close();
  });

  it('turns an INTERNAL deny from the mutation into the same 500, while ordinary decisions answer 200', async () => {
    // A configuration the type system would never allow makes the mutation fail inside reviewPod,
    // which reports it as a deny with an INTERNAL error; admitReview must not pass that off as a verdict.
    const broken = { ...DefaultInjectorConfig, proxy: null, containerNames: null } as unknown as InjectorConfig;
    const { instance, metrics } = await app((review) => admitReview(review, review.request.uid === 'bug' ? broken : DefaultInjectorConfig));
    const bug = await instance.inject({ method: 'POST', url: '/inject', payload: admissionReview(deploymentPod(), { uid: 'bug' }) });
    expect(bug.statusCode).toBe(500);
    expect(bug.json().message).toContain('uid bug');
    const ok = await instance.inject({ method: 'POST', url: '/inject?timeout=10s', payload: admissionReview(deploymentPod(), { uid: 'fine' }) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().response).toMatchObject({ uid: 'fine', allowed: true, patchType: 'JSONPatch' });
    expect(await metrics.registry.metrics()).not.toMatch(/outrigger_injector_denials_total\{/);
    await instance.close();
  });

  it('reports readiness from the server state and answers unknown routes with 404', async () => {
    const { instance } = await app(() => {
      throw new Error('unused');
    }, false);
    expect((await instance.inject({ url: '/readyz' })).statusCode).toBe(503);
    expect((await instance.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await instance.inject({ url: '/inject' })).statusCode).toBe(404);
    await instance.close();
  });
});
