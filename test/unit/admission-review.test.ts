// AdmissionReview envelopes: what parses, what is refused (every bad field named), which requests
// go to the mutation, and the response shape (uid and apiVersion echoed, base64 JSON Patch).
import { describe, expect, it } from 'vitest';
import { isOutriggerError } from '../../common/errors.js';
import { allowResponse, denyResponse, patchResponse } from '../../injector/admission/build-admission-response.js';
import { isPodCreation, parseAdmissionReview } from '../../injector/admission/parse-admission-review.js';
import { admissionReview, deploymentPod } from '../helpers/admission-requests.js';

function refusal(body: unknown): string[] {
  try {
    parseAdmissionReview(body);
  } catch (error) {
    if (isOutriggerError(error)) return error.problems.map((p) => p.source);
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('parseAdmissionReview', () => {
  it('parses v1 and v1beta1 requests as the API server sends them', () => {
    for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const) {
      const body = admissionReview(deploymentPod(), { apiVersion, uid: 'abc' });
      const parsed = parseAdmissionReview(body);
      expect(parsed.apiVersion).toBe(apiVersion);
      expect(parsed.request).toMatchObject({ uid: 'abc', operation: 'CREATE', namespace: 'shop', kind: { group: '', version: 'v1', kind: 'Pod' } });
      expect(parsed.request.object).toBe((body.request as { object: unknown }).object);
      expect(isPodCreation(parsed.request)).toBe(true);
    }
  });

  it('refuses a non-review naming every bad field', () => {
    expect(refusal('x')).toEqual(['body']);
    expect(refusal({ apiVersion: 'admission.k8s.io/v2', kind: 'Review' })).toEqual(['kind', 'apiVersion', 'request']);
    expect(refusal({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '', kind: { group: '', version: 'v1' }, resource: 'pods', operation: 'PATCH', userInfo: [] } })).toEqual([
      'request.uid',
      'request.kind.kind',
      'request.resource',
      'request.operation',
      'request.userInfo',
    ]);
    const noObject = admissionReview(undefined);
    expect(refusal(noObject)).toEqual(['request.object']);
  });

  it('sends only CREATE of core/v1 pods (not subresources) to the mutation', () => {
    const parse = (o: Parameters<typeof admissionReview>[1]) => parseAdmissionReview(admissionReview(deploymentPod(), o)).request;
    expect(isPodCreation(parse({ operation: 'UPDATE' }))).toBe(false);
    expect(isPodCreation(parse({ subResource: 'ephemeralcontainers' }))).toBe(false);
    expect(isPodCreation(parse({ kind: 'Service', resource: 'services' }))).toBe(false);
  });
});

describe('responses', () => {
  it('echo the apiVersion and uid; patches are base64 JSON Patch; an empty patch is no patch', () => {
    expect(allowResponse('admission.k8s.io/v1beta1', 'u')).toEqual({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', response: { uid: 'u', allowed: true } });
    const ops = [{ op: 'add', path: '/metadata/annotations/sidecar.istio.io~1status', value: '{}' }];
    const patched = patchResponse('admission.k8s.io/v1', 'u', ops);
    expect(patched.response.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(patched.response.patch ?? '', 'base64').toString('utf8'))).toEqual(ops);
    expect(patchResponse('admission.k8s.io/v1', 'u', [])).toEqual(allowResponse('admission.k8s.io/v1', 'u'));
    expect(denyResponse('admission.k8s.io/v1', 'u', { message: 'm', reason: 'BadRequest', code: 400 }).response).toEqual({
      uid: 'u',
      allowed: false,
      status: { status: 'Failure', message: 'm', reason: 'BadRequest', code: 400 },
    });
  });
});
