/**
 * The admission decision: a validated AdmissionReview and the configuration in force, to the
 * AdmissionReview to answer. Only CREATE of a Pod goes to reviewPod (the mutation shared with
 * offline `outrigger inject`); every other request is allowed unchanged with a reason code.
 * reviewPod's warnings go into the response's `warnings`, which kubectl prints.
 *
 * A denial lists at most MaxListedProblems problems, each cut to MaxProblemLine characters (a
 * hostile pod can have hundreds of thousands of bad fields, or a megabyte-long annotation name):
 * the message stays a few kilobytes, in the response and in the log line.
 *
 * A deny that carries an Internal error (a bug caught inside reviewPod) is thrown on as an
 * OutriggerError, so the server answers it as a failed webhook call (HTTP 500) and the webhook's
 * failurePolicy decides, instead of passing a bug off as a verdict on the user's pod.
 */

import { describeProblems, ErrorCodes, OutriggerError } from '../../common/errors.js';
import type { InjectorConfig } from '../config/injector-config.js';
import { reviewPod } from '../mutation/review-pod.js';
import type { AdmissionDecision } from './admission-decision.js';
import type { AdmissionReviewRequest } from './admission-review.js';
import { allowResponse, denyResponse, patchResponse } from './build-admission-response.js';
import { isPodCreation } from './parse-admission-review.js';

/** Why the server lets a request through without asking the mutation (codes beside SkipReasons). */
export const PassThroughReasons = {
  notPodCreation: 'the request is not the creation of a Pod (only CREATE of pods, not subresources, is mutated)',
} as const;

export const MaxListedProblems = 20;
export const MaxProblemLine = 400;

/** The error's message, bounded: its first line, then the first problems (see the header). */
function boundedMessage(error: OutriggerError): string {
  const cut = (line: string): string => (line.length > MaxProblemLine ? `${line.slice(0, MaxProblemLine - 3)}...` : line);
  if (error.problems.length === 0) return cut(error.message);
  const lines = [cut(error.message.split('\n', 1)[0] ?? ''), ...describeProblems(error.problems.slice(0, MaxListedProblems)).split('\n').map(cut)];
  const more = error.problems.length - MaxListedProblems;
  if (more > 0) lines.push(`... and ${more} more`);
  return lines.join('\n');
}

/** How a refusal's OutriggerError code shows in the response status (what kubectl prints). */
function denialStatus(code: string): { reason: string; code: number } {
  return code === ErrorCodes.InvalidInput ? { reason: 'BadRequest', code: 400 } : { reason: 'Forbidden', code: 403 };
}

export function admitReview(review: AdmissionReviewRequest, config: InjectorConfig): AdmissionDecision {
  const { apiVersion, request } = review;
  if (!isPodCreation(request)) {
    return { outcome: 'skipped', reason: 'notPodCreation', review: allowResponse(apiVersion, request.uid) };
  }
  const result = reviewPod({ pod: request.object, namespace: request.namespace ?? '', config });
  switch (result.kind) {
    case 'skip':
      return { outcome: 'skipped', reason: result.reason, review: allowResponse(apiVersion, request.uid, result.warnings) };
    case 'inject':
      return { outcome: 'injected', operations: result.patch.length, review: patchResponse(apiVersion, request.uid, result.patch, result.warnings) };
    case 'deny': {
      const { error } = result;
      if (error.code === ErrorCodes.Internal) {
        throw new OutriggerError(ErrorCodes.Internal, error.message, { cause: error });
      }
      const message = `outrigger cannot inject this pod: ${boundedMessage(error)}`;
      return { outcome: 'denied', code: error.code, message, review: denyResponse(apiVersion, request.uid, { message, ...denialStatus(error.code) }) };
    }
  }
}
