/**
 * The body of `POST /inject`, as JSON text, to the answer the server sends: parse, check the
 * envelope, decide, encode. The server runs it in its own thread for ordinary bodies and in the
 * review worker for large ones (review-worker.ts), so both give the same answers; the server does
 * the metrics and logs from what it returns.
 *
 * Parsing is JSON.parse, which is safe with `__proto__` and `constructor` keys: it makes them own
 * data properties (never a prototype change), and the injector copies objects only with spread
 * and Object.entries, which keep them so. Such a pod is answered like any other (fastify's default
 * parser refused it as "not valid JSON"). JSON.parse itself is iterative, so nesting depth cannot
 * overflow the stack here; everything that walks the pod afterwards is iterative or bounded. A large
 * body too deep or with too many values to parse within bounded memory is refused first (json-shape.ts).
 */

import { isOutriggerError } from '../../common/errors.js';
import type { AdmissionDecision, Admit } from './admission-decision.js';
import type { AdmissionApiVersion } from './admission-review.js';
import { encodeAdmissionReview } from './encode-admission-review.js';
import { JsonShapeProblems, jsonShapeProblem } from './json-shape.js';
import { parseAdmissionReview } from './parse-admission-review.js';

/** What the logs and metrics need from a decision (the review itself is sent as `text`). */
export type DecisionSummary =
  | { readonly outcome: 'injected'; readonly operations: number }
  | { readonly outcome: 'skipped'; readonly reason: string }
  | { readonly outcome: 'denied'; readonly code: string; readonly message: string };

export interface RequestIdentity {
  readonly apiVersion: AdmissionApiVersion;
  readonly uid: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

export type ReviewAnswer =
  /** HTTP 200: the AdmissionReview to send, as JSON text. */
  | { readonly kind: 'decided'; readonly request: RequestIdentity; readonly decision: DecisionSummary; readonly text: string }
  /** HTTP 400 (413: too costly to parse): not an acceptable AdmissionReview (the message says why). */
  | { readonly kind: 'refused'; readonly status: 400 | 413; readonly message: string }
  /** HTTP 500: a bug while deciding; `error` is for the logs only. */
  | { readonly kind: 'failed'; readonly request: RequestIdentity; readonly error: unknown };

/** A byte order mark is not JSON, but some clients send one; fastify's parser dropped it too. */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Where JSON.parse stopped, without quoting the body (V8's message can quote a part of it). */
function jsonProblem(error: unknown): string {
  const at = /position (\d+)/.exec(error instanceof Error ? error.message : '');
  return at ? `request body is not valid JSON (at position ${at[1]})` : 'request body is not valid JSON';
}

function summarise(decision: AdmissionDecision): DecisionSummary {
  switch (decision.outcome) {
    case 'injected':
      return { outcome: 'injected', operations: decision.operations };
    case 'skipped':
      return { outcome: 'skipped', reason: decision.reason };
    case 'denied':
      return { outcome: 'denied', code: decision.code, message: decision.message };
  }
}

export function answerReview(text: string, admit: Admit): ReviewAnswer {
  if (text.length === 0) return { kind: 'refused', status: 400, message: 'empty request body: send an AdmissionReview as application/json' };
  // Before JSON.parse: what it would cost is bounded by depth and counts (see json-shape.ts).
  const shape = jsonShapeProblem(text);
  if (shape) return { kind: 'refused', status: shape === 'depth' ? 400 : 413, message: JsonShapeProblems[shape] };
  let body: unknown;
  try {
    body = JSON.parse(withoutBom(text));
  } catch (error) {
    return { kind: 'refused', status: 400, message: jsonProblem(error) };
  }
  let review;
  try {
    review = parseAdmissionReview(body);
  } catch (error) {
    if (isOutriggerError(error)) return { kind: 'refused', status: 400, message: error.message };
    throw error;
  }
  const { uid, namespace, name } = review.request;
  const request: RequestIdentity = { apiVersion: review.apiVersion, uid, namespace, name };
  try {
    const decision = admit(review);
    return { kind: 'decided', request, decision: summarise(decision), text: encodeAdmissionReview(decision.review) };
  } catch (error) {
    return { kind: 'failed', request, error };
  }
}
