/**
 * Error bodies for HTTP-level failures (not an AdmissionReview: 400, 413, 415, 429, 500). They are
 * shaped as a Kubernetes metav1.Status, because the API server decodes a Status from a failed
 * webhook call and shows its message in the error the user sees.
 */

export interface StatusBody {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure';
  readonly message: string;
  readonly reason: string;
  readonly code: number;
}

const Reasons: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  408: 'Timeout',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

export function statusBody(code: number, message: string): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: Reasons[code] ?? (code >= 500 ? 'InternalError' : 'BadRequest'), code };
}
