/**
 * The injector as one fastify plugin: `POST /inject` (AdmissionReview in, AdmissionReview out),
 * `GET /healthz`, `GET /readyz`, `GET /metrics`. It owns no sockets, files or signals (see
 * injector-server.ts), so tests can build it and call `app.inject()` or put it on a real TLS socket.
 *
 * How answers map (failurePolicy: Fail is assumed, see README "Injector server"):
 * - a decision about the pod (inject, skip, deny) is HTTP 200 with an AdmissionReview;
 * - a request that is not an acceptable AdmissionReview is HTTP 4xx (400 malformed or empty,
 *   413 over the body limit or too costly to review, 415 not JSON, 429 too many large bodies at
 *   once) with a metav1.Status body;
 * - a bug (the decision code threw) is HTTP 500 with a metav1.Status body, so the webhook's
 *   failurePolicy, the operator's choice, decides the pod's fate; it is logged with the uid.
 *
 * The body is taken as bytes and parsed by answerReview (JSON.parse: `__proto__` and `constructor`
 * keys are ordinary keys of a pod; an empty or malformed body is its 400). Bodies of LargeBodyBytes or more are answered by the review
 * worker when one is given (its own thread: reviewing a 6 MiB body takes hundreds of milliseconds,
 * during which this thread must keep answering probes and ordinary pods); at most MaxLargeInFlight
 * of them are received or reviewed at once, so their memory is bounded.
 */

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Admit } from '../admission/admission-decision.js';
import { answerReview, type ReviewAnswer } from '../admission/answer-review.js';
import { AdmissionOutcomes, type AdmissionOutcome, type InjectorMetrics } from '../metrics/injector-metrics.js';
import { statusBody } from './http-status.js';
import type { WorkerAnswer } from './review-worker-client.js';

/** 6 MiB: above the API server's own 3 MiB request limit for an object, with room for the envelope. */
export const MaxBodyBytes = 6 * 1024 * 1024;

/**
 * 128 KiB: bodies from here on go to the review worker. Real pods are a few KB (a pod with 2,000
 * env vars is 66 KB); parsing the most hostile 128 KiB (nested or empty arrays) takes ~15 ms.
 */
export const LargeBodyBytes = 128 * 1024;
/** Large bodies being received, waiting or in review at once; more get 429. */
export const MaxLargeInFlight = 4;

export interface InjectorAppOptions {
  readonly admit: Admit;
  /** Reviews large bodies off this thread (see the header); without it every body is reviewed inline. */
  readonly reviewWorker?: { review(body: Buffer): Promise<WorkerAnswer> };
  readonly metrics: InjectorMetrics;
  /** False until config and certificate are loaded, and again once shutdown has begun. */
  readonly isReady: () => boolean;
}

interface Timing {
  start: bigint;
  outcome: AdmissionOutcome | undefined;
  apiVersion: string;
}

const timings = new WeakMap<FastifyRequest, Timing>();

function errorKind(statusCode: number): string {
  if (statusCode === 413) return 'body_too_large';
  if (statusCode === 415) return 'unsupported_media_type';
  if (statusCode === 429) return 'too_many_requests';
  return statusCode >= 500 ? 'internal' : 'bad_request';
}

/** A clear message for fastify's own body errors (JSON is parsed by answerReview); others keep theirs. */
function describeError(error: FastifyError, request: FastifyRequest): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `request body is larger than the limit of ${MaxBodyBytes} bytes (6 MiB)`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `unsupported content type ${JSON.stringify(request.headers['content-type'] ?? '')}: send the AdmissionReview as application/json`;
    default:
      return error.message;
  }
}

export async function injectorApp(app: FastifyInstance, options: InjectorAppOptions): Promise<void> {
  const { metrics, isReady, reviewWorker } = options;
  // Only application/json is an AdmissionReview; fastify's default text/plain parser would turn
  // a wrong content type into a 400 instead of a 415. JSON is taken as bytes: answerReview parses
  // it, here or in the review worker (which gets the bytes without a copy).
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MaxBodyBytes }, (_request, body, done) => done(null, body));
  let largeInFlight = 0;

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    const timing = timings.get(request);
    if (timing) timing.outcome = statusCode >= 500 ? AdmissionOutcomes.error : AdmissionOutcomes.rejected;
    metrics.errors.inc({ kind: errorKind(statusCode) });
    if (statusCode >= 500) {
      request.log.error({ err: error }, 'internal error handling a request');
      return reply.code(500).send(statusBody(500, `outrigger injector internal error (request id ${request.id}); see the injector's logs`));
    }
    request.log.debug({ code: error.code, statusCode }, 'refused a request');
    return reply.code(statusCode).send(statusBody(statusCode, describeError(error, request)));
  });

  app.get('/healthz', async (_request, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', async (_request, reply) =>
    isReady() ? reply.type('text/plain').send('ready') : reply.code(503).type('text/plain').send('not ready'),
  );
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  app.post('/inject', {
    bodyLimit: MaxBodyBytes,
    onRequest: (request, reply, done) => {
      timings.set(request, { start: process.hrtime.bigint(), outcome: undefined, apiVersion: 'unknown' });
      const length = Number(request.headers['content-length'] ?? LargeBodyBytes);
      if (reviewWorker && !(length < LargeBodyBytes)) {
        if (largeInFlight >= MaxLargeInFlight) {
          metrics.errors.inc({ kind: 'too_many_requests' });
          reply.code(429).send(statusBody(429, `too many large AdmissionReviews at once (${MaxLargeInFlight} of ${LargeBodyBytes} bytes or more); retry`));
          return;
        }
        largeInFlight++;
        reply.raw.once('close', () => largeInFlight--);
      }
      done();
    },
    onResponse: (request, reply, done) => {
      const timing = timings.get(request);
      if (timing) {
        const outcome = timing.outcome ?? (reply.statusCode >= 500 ? AdmissionOutcomes.error : AdmissionOutcomes.rejected);
        metrics.requests.inc({ outcome, api_version: timing.apiVersion });
        metrics.duration.observe({ outcome }, Number(process.hrtime.bigint() - timing.start) / 1e9);
      }
      done();
    },
    handler: (request: FastifyRequest, reply: FastifyReply) => handleInject(request, reply, options),
  });
}

async function handleInject(
  request: FastifyRequest,
  reply: FastifyReply,
  { admit, metrics, reviewWorker }: InjectorAppOptions,
): Promise<FastifyReply> {
  const timing = timings.get(request);
  const refuse = (code: number, kind: string, message: string): FastifyReply => {
    if (timing) timing.outcome = AdmissionOutcomes.rejected;
    metrics.errors.inc({ kind });
    return reply.code(code).send(statusBody(code, message));
  };
  // No body and no content type (an empty JSON body reaches answerReview as '').
  if (!Buffer.isBuffer(request.body)) return refuse(400, 'bad_request', 'empty request body: send an AdmissionReview as application/json');
  const body = request.body;
  let answer: ReviewAnswer;
  if (reviewWorker && body.length >= LargeBodyBytes) {
    const result = await reviewWorker.review(body);
    switch (result.kind) {
      case 'answer':
        answer = result.answer;
        break;
      case 'memory':
        return refuse(413, 'body_too_large', `the AdmissionReview is too costly to review: ${result.problem}`);
      case 'busy':
        return refuse(429, 'too_many_requests', `too many large AdmissionReviews at once: ${result.problem}; retry`);
      case 'timeout':
      case 'crashed':
        if (timing) timing.outcome = AdmissionOutcomes.error;
        metrics.errors.inc({ kind: 'internal' });
        request.log.error({ problem: result.problem }, 'internal error reviewing a large AdmissionReview');
        return reply.code(500).send(statusBody(500, `outrigger injector internal error (request id ${request.id}); see the injector's logs`));
    }
  } else {
    answer = answerReview(body.toString('utf8'), admit);
  }
  if (answer.kind === 'refused') return refuse(answer.status, answer.status === 413 ? 'body_too_large' : 'bad_request', answer.message);
  const { apiVersion, uid, namespace, name } = answer.request;
  if (timing) timing.apiVersion = apiVersion;
  if (answer.kind === 'failed') {
    if (timing) timing.outcome = AdmissionOutcomes.error;
    metrics.errors.inc({ kind: 'internal' });
    request.log.error({ uid, namespace, name, err: answer.error }, 'internal error deciding on a pod');
    return reply.code(500).send(statusBody(500, `outrigger injector internal error for request uid ${uid}; see the injector's logs`));
  }
  const { decision } = answer;
  if (timing) timing.outcome = decision.outcome;
  switch (decision.outcome) {
    case 'injected':
      metrics.injections.inc();
      // debug, not info: one line per pod creation is noise at scale, and a write per request
      // costs throughput; the injections counter and the pod's status annotation record it.
      request.log.debug({ uid, namespace, name, operations: decision.operations }, 'injected');
      break;
    case 'skipped':
      metrics.skips.inc({ reason: decision.reason });
      request.log.debug({ uid, namespace, name, reason: decision.reason }, 'skipped');
      break;
    case 'denied':
      metrics.denials.inc({ code: decision.code });
      request.log.info({ uid, namespace, name, code: decision.code, message: decision.message }, 'denied');
      break;
  }
  // Sent as text: fastify would stringify the review, rescanning its ~8 KB base64 patch.
  return reply.code(200).type('application/json; charset=utf-8').send(answer.text);
}
