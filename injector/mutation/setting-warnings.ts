/**
 * Warnings for settings the injector accepts but does not follow as written: a value it falls
 * back from (an inject value other than "true"/"false"), a setting another one overrides or
 * deprecates, an Istio annotation outrigger does not implement. They reach the user as the
 * AdmissionResponse's `warnings` (kubectl prints each as "Warning: ...") and on stderr of
 * `outrigger inject`.
 *
 * Kubernetes asks for warnings of at most 120 characters and may truncate long or many ones, so
 * each is cut to MaxWarningLength (user values are quoted and shortened first) and a pod gets at
 * most MaxWarnings of them. Pure; the text never carries a stack or anything but the pod's own
 * annotation names and values.
 */

import { TrafficAnnotations } from '../../capture/pod-annotations.js';
import { InjectorAnnotations } from './pod-annotations.js';

export const MaxWarningLength = 120;
export const MaxWarnings = 8;

/** A pod value as a warning quotes it: JSON-quoted (control characters escaped), at most 24 characters. */
export function quoteValue(value: string): string {
  const short = value.length > 24 ? `${value.slice(0, 21)}...` : value;
  return JSON.stringify(short);
}

/**
 * A warning as it can travel in an HTTP Warning header: printable ASCII only (anything else, which
 * can only come from the pod's own text, becomes `?`), at most MaxWarningLength characters.
 */
export function cleanWarning(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > MaxWarningLength ? `${printable.slice(0, MaxWarningLength - 3)}...` : printable;
}

/** The warnings of one pod, in order, duplicates dropped, at most MaxWarnings. */
export function boundWarnings(warnings: readonly string[]): readonly string[] {
  if (warnings.length === 0) return NoWarnings; // the common case allocates nothing
  return [...new Set(warnings.map(cleanWarning))].slice(0, MaxWarnings);
}

const NoWarnings: readonly string[] = Object.freeze([]);

/** Prefixes of Istio's proxy and injection annotations: one outrigger does not read is ignored. */
const IstioProxyPrefixes = ['sidecar.istio.io/', 'traffic.sidecar.istio.io/', 'status.sidecar.istio.io/', 'readiness.status.sidecar.istio.io/', 'proxy.istio.io/'];
const ReadAnnotations: ReadonlySet<string> = new Set<string>([...Object.values(TrafficAnnotations), ...Object.values(InjectorAnnotations)]);

/**
 * Warnings about the pod's annotations as injection reads them: Istio annotations it ignores,
 * the deprecated kubevirtInterfaces (ignored when reroute-virtual-interfaces is set, as in Istio),
 * and traffic annotations on a pod whose interception mode NONE captures nothing.
 */
export function annotationWarnings(annotations: Readonly<Record<string, string>>, intercepts: boolean): string[] {
  const warnings: string[] = [];
  const kubevirt = annotations[TrafficAnnotations.kubevirtInterfaces];
  if (kubevirt !== undefined) {
    warnings.push(annotations[TrafficAnnotations.rerouteVirtualInterfaces] !== undefined
      ? `${TrafficAnnotations.kubevirtInterfaces} ignored: ${TrafficAnnotations.rerouteVirtualInterfaces} is set and wins`
      : `${TrafficAnnotations.kubevirtInterfaces} is deprecated; use ${TrafficAnnotations.rerouteVirtualInterfaces}`);
  }
  const names = Object.keys(annotations);
  if (!intercepts) {
    const capture = names.filter((n) => n.startsWith('traffic.sidecar.istio.io/') || n === TrafficAnnotations.rerouteVirtualInterfaces);
    if (capture.length > 0) warnings.push(listWarning('interceptionMode NONE captures nothing; ignored:', capture));
  }
  const ignored = names.filter((n) => !ReadAnnotations.has(n) && IstioProxyPrefixes.some((p) => n.startsWith(p)));
  if (ignored.length > 0) warnings.push(listWarning('not supported by outrigger, ignored:', ignored));
  return warnings;
}

/** `lead a, b, c (+N more)` within MaxWarningLength. */
function listWarning(lead: string, names: readonly string[]): string {
  const sorted = [...names].sort();
  let text = lead;
  for (let i = 0; i < sorted.length; i++) {
    const more = sorted.length - i - 1;
    const next = `${text}${i === 0 ? ' ' : ', '}${sorted[i]}`;
    const tail = more > 0 ? ` (+${more} more)` : '';
    if (next.length + tail.length > MaxWarningLength) return `${text} (+${sorted.length - i} more)`;
    text = next;
  }
  return text;
}
