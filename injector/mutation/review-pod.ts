/**
 * The injector's one decision, shared by the admission webhook and offline `outrigger inject`:
 * given a pod, its namespace and the configuration, skip it (with a reason code), deny it (with
 * a message naming every cause the user can fix), or inject it (the mutated pod and the RFC 6902
 * patch from the original to it). Skips and injections carry `warnings`: settings accepted but not
 * followed as written (an inject value Istio ignores, an unsupported Istio annotation...), at most
 * MaxWarnings of at most 120 characters each, for the AdmissionResponse and `outrigger inject`.
 *
 * Never throws: malformed pods are denied with the fields at fault; a bug surfaces as a deny
 * carrying an Internal error (code INTERNAL), for the caller to answer as it sees fit.
 * The input is never changed. The returned pod shares unchanged subtrees (user containers...)
 * with the input, which keeps huge pods fast: treat both as read-only.
 */

import { ErrorCodes, invalidInput, isOutriggerError, OutriggerError } from '../../common/errors.js';
import type { InjectorConfig } from '../config/injector-config.js';
import type { JsonPatchOperation, Pod } from '../kube/pod-types.js';
import { computePodPatch } from './compute-pod-patch.js';
import { decideInjection } from './decide-injection.js';
import { injectPod } from './inject-pod.js';
import { readPod } from './read-pod.js';
import { boundWarnings } from './setting-warnings.js';
import type { SkipReason } from './skip-reasons.js';

export { SkipReasons, type SkipReason } from './skip-reasons.js';
export type { JsonPatchOperation, Pod } from '../kube/pod-types.js';

export interface ReviewPodInput {
  readonly pod: unknown;
  /** The request's namespace; used when the pod has none (it usually has none at CREATE). */
  readonly namespace: string;
  readonly config: InjectorConfig;
}

export type PodReview =
  | { readonly kind: 'skip'; readonly reason: SkipReason; readonly warnings: readonly string[] }
  | { readonly kind: 'deny'; readonly error: OutriggerError } // message names every cause
  | { readonly kind: 'inject'; readonly patch: readonly JsonPatchOperation[]; readonly pod: Pod; readonly warnings: readonly string[] };

export function reviewPod(input: ReviewPodInput): PodReview {
  try {
    const read = readPod(input.pod);
    if (!read.ok) return { kind: 'deny', error: invalidInput(read.problems, 'pod') };
    const pod = read.pod;
    const namespace = pod.metadata?.namespace || input.namespace;
    const decision = decideInjection(pod, namespace, input.config);
    if (!decision.inject) return { kind: 'skip', reason: decision.reason, warnings: boundWarnings(decision.warnings) };
    const injected = injectPod(pod, input.config);
    if (!injected.ok) return { kind: 'deny', error: injected.error };
    const patch = computePodPatch(input.pod, injected.pod);
    return { kind: 'inject', patch, pod: injected.pod, warnings: boundWarnings([...decision.warnings, ...injected.warnings]) };
  } catch (error) {
    const wrapped = isOutriggerError(error)
      ? error
      : new OutriggerError(ErrorCodes.Internal, `internal error while reviewing the pod: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    return { kind: 'deny', error: wrapped };
  }
}
