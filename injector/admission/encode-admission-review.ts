/**
 * The AdmissionReview response as JSON text, for the server to send as is. A patch response is
 * mostly its base64 patch (~8 KB for a typical injection); JSON.stringify would scan it for
 * characters to escape, though base64 has none. So the envelope is stringified with an empty
 * patch and the base64 put in its place: the same text as JSON.stringify(review).
 * Limit: `response.patch` must be base64 (patchResponse makes it so); it is not re-checked, as
 * scanning it is the cost avoided here.
 */

import type { AdmissionReviewResponse } from './admission-review.js';

const EmptyPatch = '"patch":""';

export function encodeAdmissionReview(review: AdmissionReviewResponse): string {
  const { patch } = review.response;
  if (patch === undefined || patch.length < 256) return JSON.stringify(review);
  const text = JSON.stringify({ ...review, response: { ...review.response, patch: '' } });
  // Inside a JSON string every `"` is escaped, so this key can only be the response's own
  // `patch`; it is the last key of the last object, hence lastIndexOf.
  const at = text.lastIndexOf(EmptyPatch);
  return `${text.slice(0, at)}"patch":"${patch}"${text.slice(at + EmptyPatch.length)}`;
}
