/**
 * What the /inject route needs from the admission logic: a function from a validated
 * AdmissionReview to the response and how it ended (for metrics and logs). The app plugin takes
 * it as an option, so routes, error statuses and metrics are testable on their own.
 */

import type { AdmissionReviewRequest, AdmissionReviewResponse } from './admission-review.js';

export type AdmissionDecision =
  | { readonly outcome: 'injected'; readonly review: AdmissionReviewResponse; readonly operations: number }
  | { readonly outcome: 'skipped'; readonly review: AdmissionReviewResponse; readonly reason: string }
  | { readonly outcome: 'denied'; readonly review: AdmissionReviewResponse; readonly code: string; readonly message: string };

/** Throws only on a bug; the route answers HTTP 500 then. */
export type Admit = (review: AdmissionReviewRequest) => AdmissionDecision;
