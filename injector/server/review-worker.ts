/**
 * The review worker's thread (bundled as dist/injector-review-worker.mjs): answers large
 * AdmissionReviews (parse, decide, encode: answerReview) so the server's own thread never spends
 * more than a few milliseconds on one request and keeps answering health probes and ordinary
 * pods: a 6 MiB body within the parse limits (json-shape.ts) takes hundreds of milliseconds to
 * parse and review (the pod near 6 MiB, 100,000 containers to strip: ~0.5 s).
 *
 * Messages in: `{ id, body, config? }` (the body's bytes, UTF-8 decoded here) (config only when it changed since the last job; a structured
 * clone, kept here so the per-configuration caches work). Out: `{ id, answer }`, the answer plain
 * data (an internal error is reduced to its name, message and stack for the server's log).
 */

import { parentPort } from 'node:worker_threads';
import { admitReview } from '../admission/admit-review.js';
import { answerReview, type ReviewAnswer } from '../admission/answer-review.js';
import type { InjectorConfig } from '../config/injector-config.js';

export interface ReviewJob {
  readonly id: number;
  readonly body: Uint8Array;
  readonly config?: InjectorConfig;
}

export interface ReviewResult {
  readonly id: number;
  readonly answer: ReviewAnswer;
}

function plainError(error: unknown): { name: string; message: string; stack?: string } {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
}

const port = parentPort;
if (!port) throw new Error('injector-review-worker must run as a worker thread');
let config: InjectorConfig | undefined;

port.on('message', (job: ReviewJob) => {
  if (job.config) config = job.config;
  const current = config;
  // The client sends the configuration with a new worker's first job; without it, fail loudly
  // (the worker exits and the server answers that request as an internal error).
  if (!current) throw new Error('the review worker got a job before any configuration');
  const text = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength).toString('utf8');
  let answer = answerReview(text, (review) => admitReview(review, current));
  if (answer.kind === 'failed') answer = { ...answer, error: plainError(answer.error) };
  port.postMessage({ id: job.id, answer } satisfies ReviewResult);
});
