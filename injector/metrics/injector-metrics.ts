/**
 * The injector's Prometheus metrics, on a registry of its own (not prom-client's global one, so
 * tests and several servers in one process never share counters). Skip reasons are label values
 * taken from the same reason codes the logs and tests use. Names follow Prometheus conventions:
 * `_total` counters, `_seconds` histograms, an `outrigger_injector_` prefix.
 */

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What a request ended as; a label of the requests counter. */
export const AdmissionOutcomes = {
  injected: 'injected',
  skipped: 'skipped',
  denied: 'denied',
  /** The request was not an acceptable AdmissionReview (HTTP 4xx). */
  rejected: 'rejected',
  /** A bug: answered HTTP 500 (the webhook's failurePolicy decides). */
  error: 'error',
} as const;
export type AdmissionOutcome = (typeof AdmissionOutcomes)[keyof typeof AdmissionOutcomes];

export interface InjectorMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'outcome' | 'api_version'>;
  readonly injections: Counter;
  readonly skips: Counter<'reason'>;
  readonly denials: Counter<'code'>;
  readonly errors: Counter<'kind'>;
  readonly duration: Histogram<'outcome'>;
  readonly reloads: Counter<'what' | 'result'>;
  readonly certificateExpiry: Gauge;
}

export function createInjectorMetrics(options: { defaultMetrics?: boolean } = {}): InjectorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'outrigger_injector_' });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'outrigger_injector_requests_total',
      help: 'Admission requests received on /inject, by outcome and AdmissionReview apiVersion.',
      labelNames: ['outcome', 'api_version'],
      registers,
    }),
    injections: new Counter({ name: 'outrigger_injector_injections_total', help: 'Pods the injector mutated.', registers }),
    skips: new Counter({
      name: 'outrigger_injector_skips_total',
      help: 'Requests allowed without mutation, by skip reason code.',
      labelNames: ['reason'],
      registers,
    }),
    denials: new Counter({
      name: 'outrigger_injector_denials_total',
      help: 'Pods refused (allowed: false), by outrigger error code.',
      labelNames: ['code'],
      registers,
    }),
    errors: new Counter({
      name: 'outrigger_injector_errors_total',
      help: 'Errors: bad requests (kind="bad_request", "body_too_large", "unsupported_media_type", "too_many_requests") and internal errors (kind="internal").',
      labelNames: ['kind'],
      registers,
    }),
    duration: new Histogram({
      name: 'outrigger_injector_admission_duration_seconds',
      help: 'Time to handle one /inject request from parsed body to reply, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    reloads: new Counter({
      name: 'outrigger_injector_reloads_total',
      help: 'Reloads of the configuration file and the TLS certificate, by what and result (applied, refused).',
      labelNames: ['what', 'result'],
      registers,
    }),
    certificateExpiry: new Gauge({
      name: 'outrigger_injector_certificate_expiry_timestamp_seconds',
      help: 'When the serving certificate in use expires (Unix seconds).',
      registers,
    }),
  };
}
