/**
 * Builds the AdmissionReview sent back to the API server: same `apiVersion` as the request, the
 * request's `uid`, and either an allow (optionally with a base64 RFC 6902 patch and
 * `patchType: JSONPatch`) or a denial carrying a metav1.Status the user sees in kubectl.
 */

import { toJsonText } from '../mutation/frozen-json.js';
import type { AdmissionApiVersion, AdmissionResponse, AdmissionReviewResponse, AdmissionStatus } from './admission-review.js';

/** An RFC 6902 operation, as reviewPod returns them (only `op` is looked at here). */
export interface PatchOperation {
  readonly op: string;
}

function envelope(apiVersion: AdmissionApiVersion, response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion, kind: 'AdmissionReview', response };
}

/** `warnings` when there are any (kubectl prints each as "Warning: ..."); absent otherwise. */
function warningsField(warnings: readonly string[]): Pick<AdmissionResponse, 'warnings'> {
  return warnings.length > 0 ? { warnings } : {};
}

/** Allowed, unchanged. */
export function allowResponse(apiVersion: AdmissionApiVersion, uid: string, warnings: readonly string[] = []): AdmissionReviewResponse {
  return envelope(apiVersion, { uid, allowed: true, ...warningsField(warnings) });
}

/**
 * Allowed with a JSON Patch. An empty patch is sent as no patch at all, so the API server does
 * not count a no-op mutation (and reinvocation sees nothing changed).
 */
export function patchResponse(apiVersion: AdmissionApiVersion, uid: string, patch: readonly PatchOperation[], warnings: readonly string[] = []): AdmissionReviewResponse {
  if (patch.length === 0) return allowResponse(apiVersion, uid, warnings);
  // toJsonText: JSON.stringify's text, with the shared proxy containers' text reused.
  const encoded = Buffer.from(toJsonText(patch), 'utf8').toString('base64');
  // `patch` stays the last key: encodeAdmissionReview relies on it.
  return envelope(apiVersion, { uid, allowed: true, ...warningsField(warnings), patchType: 'JSONPatch', patch: encoded });
}

/** Refused; `message` is what `kubectl` prints after "admission webhook ... denied the request:". */
export function denyResponse(
  apiVersion: AdmissionApiVersion,
  uid: string,
  denial: { readonly message: string; readonly reason: string; readonly code: number },
): AdmissionReviewResponse {
  const status: AdmissionStatus = { status: 'Failure', message: denial.message, reason: denial.reason, code: denial.code };
  return envelope(apiVersion, { uid, allowed: false, status });
}
