/**
 * Turns a parsed JSON body into a typed AdmissionReview request, or one InvalidInput error that
 * names every bad field (`request.uid`, `request.kind.kind`, ...). Checks the envelope only: the
 * object under review (the Pod) is validated by the mutation, which knows what it needs.
 */

import { type FieldProblem, invalidInput } from '../../common/errors.js';
import {
  AdmissionApiVersions,
  type AdmissionApiVersion,
  AdmissionOperations,
  type AdmissionOperation,
  type AdmissionRequest,
  type AdmissionReviewRequest,
} from './admission-review.js';

type Json = Record<string, unknown>;

const apiVersions: readonly string[] = Object.values(AdmissionApiVersions);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short rendering of a bad value for an error message (never the whole object). */
function show(value: unknown): string {
  if (value === undefined) return '<missing>';
  if (typeof value === 'string') return value.length > 80 ? `${value.slice(0, 77)}...` : value;
  if (isObject(value)) return '<object>';
  if (Array.isArray(value)) return '<array>';
  return String(value);
}

class Checker {
  readonly problems: FieldProblem[] = [];

  bad(source: string, value: unknown, reason: string): void {
    this.problems.push({ source, value: show(value), reason });
  }

  string(source: string, value: unknown, options: { required: boolean; nonEmpty?: boolean }): string | undefined {
    if (value === undefined && !options.required) return undefined;
    if (typeof value !== 'string') {
      this.bad(source, value, 'must be a string');
      return undefined;
    }
    if (options.nonEmpty && value === '') this.bad(source, value, 'must not be empty');
    return value;
  }

  object(source: string, value: unknown, required: boolean): Json | undefined {
    if (value === undefined && !required) return undefined;
    if (!isObject(value)) {
      this.bad(source, value, 'must be an object');
      return undefined;
    }
    return value;
  }

  /** group/version/kind or group/version/resource: three strings, the last non-empty. */
  triple<K extends string>(source: string, value: unknown, last: K, required: boolean): ({ group: string; version: string } & Record<K, string>) | undefined {
    const o = this.object(source, value, required);
    if (!o) return undefined;
    const group = this.string(`${source}.group`, o.group, { required: true });
    const version = this.string(`${source}.version`, o.version, { required: true, nonEmpty: true });
    const name = this.string(`${source}.${last}`, o[last], { required: true, nonEmpty: true });
    if (group === undefined || version === undefined || name === undefined) return undefined;
    return { group, version, [last]: name } as { group: string; version: string } & Record<K, string>;
  }
}

/** Validates an AdmissionReview envelope; throws InvalidInput listing every problem. */
export function parseAdmissionReview(body: unknown): AdmissionReviewRequest {
  const c = new Checker();
  if (!isObject(body)) {
    c.bad('body', body, 'must be a JSON object (an AdmissionReview)');
    throw invalidInput(c.problems, 'AdmissionReview');
  }
  if (body.kind !== 'AdmissionReview') c.bad('kind', body.kind, 'must be "AdmissionReview"');
  if (typeof body.apiVersion !== 'string' || !apiVersions.includes(body.apiVersion)) {
    c.bad('apiVersion', body.apiVersion, `must be one of ${apiVersions.join(', ')}`);
  }
  const request = c.object('request', body.request, true);
  if (!request) throw invalidInput(c.problems, 'AdmissionReview');

  const uid = c.string('request.uid', request.uid, { required: true, nonEmpty: true });
  const kind = c.triple('request.kind', request.kind, 'kind', true);
  const resource = c.triple('request.resource', request.resource, 'resource', true);
  const requestKind = c.triple('request.requestKind', request.requestKind, 'kind', false);
  const requestResource = c.triple('request.requestResource', request.requestResource, 'resource', false);
  const subResource = c.string('request.subResource', request.subResource, { required: false });
  const requestSubResource = c.string('request.requestSubResource', request.requestSubResource, { required: false });
  const name = c.string('request.name', request.name, { required: false });
  const namespace = c.string('request.namespace', request.namespace, { required: false });
  const operation = request.operation;
  if (typeof operation !== 'string' || !(AdmissionOperations as readonly string[]).includes(operation)) {
    c.bad('request.operation', operation, `must be one of ${AdmissionOperations.join(', ')}`);
  }
  // userInfo is informational for outrigger; tolerate its absence but not a wrong type.
  const userInfo = c.object('request.userInfo', request.userInfo, false) ?? {};
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') c.bad('request.dryRun', request.dryRun, 'must be a boolean');
  if ((operation === 'CREATE' || operation === 'UPDATE') && !isObject(request.object)) {
    c.bad('request.object', request.object, `must be an object for ${String(operation)}`);
  }

  if (c.problems.length > 0 || uid === undefined || kind === undefined || resource === undefined) {
    throw invalidInput(c.problems, 'AdmissionReview');
  }
  const parsed: AdmissionRequest = {
    uid,
    kind,
    resource,
    operation: operation as AdmissionOperation,
    userInfo,
    ...(requestKind ? { requestKind } : {}),
    ...(requestResource ? { requestResource } : {}),
    ...(subResource !== undefined ? { subResource } : {}),
    ...(requestSubResource !== undefined ? { requestSubResource } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(request.object !== undefined ? { object: request.object } : {}),
    ...(request.oldObject !== undefined ? { oldObject: request.oldObject } : {}),
    ...(typeof request.dryRun === 'boolean' ? { dryRun: request.dryRun } : {}),
    ...(request.options !== undefined ? { options: request.options } : {}),
  };
  return { apiVersion: body.apiVersion as AdmissionApiVersion, kind: 'AdmissionReview', request: parsed };
}

/** True for the one request outrigger mutates: CREATE of a core/v1 Pod (not a subresource). */
export function isPodCreation(request: AdmissionRequest): boolean {
  return (
    request.operation === 'CREATE' &&
    request.kind.group === '' &&
    request.kind.kind === 'Pod' &&
    request.resource.resource === 'pods' &&
    (request.subResource === undefined || request.subResource === '')
  );
}
