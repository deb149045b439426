/**
 * The injector as one fastify plugin: `POST /inject` (AdmissionReview in, AdmissionReview out),
 * `GET /healthz`, `GET /readyz`, `GET /metrics`. It owns no sockets, files or signals (see
 * injector-server.ts), so tests can build it and call `app.inject()` or put it on a real TLS socket.
 *
 * How answers map (failurePolicy: Fail is assumed, see README "Injector server"):
 * - a decision about the pod (inject, skip, deny) is HTTP 200 with an AdmissionReview;
 * - a request that is not an acceptable AdmissionReview is HTTP 4xx (400 malformed or empty,
 *   413 over the body limit, 415 not JSON) with a metav1.Status body;
 * - a bug (the decision code threw) is HTTP 500 with a metav1.Status body, so the webhook's
 *   failurePolicy, the operator's choice, decides the pod's fate; it is logged with the uid.
 */

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isOutriggerError } from '../../common/errors.js';
import type { AdmissionReviewRequest } from '../admission/admission-review.js';
import { encodeAdmissionReview } from '../admission/encode-admission-review.js';
import { parseAdmissionReview } from '../admission/parse-admission-review.js';
import { AdmissionOutcomes, type AdmissionOutcome, type InjectorMetrics } from '../metrics/injector-metrics.js';
import type { Admit } from '../admission/admission-decision.js';
import { statusBody } from './http-status.js';

/** 6 MiB: above the API server's own 3 MiB request limit for an object, with room for the envelope. */
export const MaxBodyBytes = 6 * 1024 * 1024;

export interface InjectorAppOptions {
  readonly admit: Admit;
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
  return statusCode >= 500 ? 'internal' : 'bad_request';
}

/** A clear message for fastify's own body errors; others keep theirs. */
function describeError(error: FastifyError, request: FastifyRequest): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `request body is larger than the limit of ${MaxBodyBytes} bytes (6 MiB)`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return `unsupported content type ${JSON.stringify(request.headers['content-type'] ?? '')}: send the AdmissionReview as application/json`;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'empty request body: send an AdmissionReview as application/json';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return `request body is not valid JSON: ${error.message}`;
    default:
      return error instanceof SyntaxError ? `request body is not valid JSON: ${error.message}` : error.message;
  }
}

export async function injectorApp(app: FastifyInstance, options: InjectorAppOptions): Promise<void> {
  const { admit, metrics, isReady } = options;
  // Only application/json is an AdmissionReview; fastify's default text/plain parser would turn
  // a wrong content type into a 400 instead of a 415.
  app.removeContentTypeParser('text/plain');

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
    onRequest: (request, _reply, done) => {
      timings.set(request, { start: process.hrtime.bigint(), outcome: undefined, apiVersion: 'unknown' });
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
    handler: (request: FastifyRequest, reply: FastifyReply) => handleInject(request, reply, admit, metrics),
  });
}

function handleInject(request: FastifyRequest, reply: FastifyReply, admit: Admit, metrics: InjectorMetrics): FastifyReply {
  const timing = timings.get(request);
  // No body and no content type (fastify refuses an empty JSON body itself); a literal `null` is
  // refused by the envelope check below.
  if (request.body === undefined) {
    if (timing) timing.outcome = AdmissionOutcomes.rejected;
    metrics.errors.inc({ kind: 'bad_request' });
    return reply.code(400).send(statusBody(400, 'empty request body: send an AdmissionReview as application/json'));
  }
  let review: AdmissionReviewRequest;
  try {
    review = parseAdmissionReview(request.body);
  } catch (error) {
    if (!isOutriggerError(error)) throw error;
    if (timing) timing.outcome = AdmissionOutcomes.rejected;
    metrics.errors.inc({ kind: 'bad_request' });
    return reply.code(400).send(statusBody(400, error.message));
  }
  if (timing) timing.apiVersion = review.apiVersion;
  const { uid, namespace, name } = review.request;
  try {
    const decision = admit(review);
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
    return reply.code(200).type('application/json; charset=utf-8').send(encodeAdmissionReview(decision.review));
  } catch (error) {
    if (timing) timing.outcome = AdmissionOutcomes.error;
    metrics.errors.inc({ kind: 'internal' });
    request.log.error({ uid, namespace, name, err: error }, 'internal error deciding on a pod');
    return reply.code(500).send(statusBody(500, `outrigger injector internal error for request uid ${uid}; see the injector's logs`));
  }
}
