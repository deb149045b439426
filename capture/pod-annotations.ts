/**
 * The pod-annotation surface of the capture model, shared by the injector and the CNI plugin.
 *
 * - Istio's traffic annotations (`traffic.sidecar.istio.io/*`, `sidecar.istio.io/interceptionMode`,
 *   `status.sidecar.istio.io/port`) map onto capture settings with the same defaults Istio's
 *   injection template uses (`-i '*' -b '*' -d 15090,15021,<status port>`).
 * - `outrigger.dev/capture-settings` carries the complete, resolved settings (JSON, keyed by
 *   CaptureSettingKey) that the injector computed for a pod in CNI mode, so the CNI plugin applies
 *   exactly what the injector validated, whatever the injector's configuration is later.
 *
 * Every bad annotation is reported with its name as the source; nothing here does I/O.
 */

import { type FieldProblem, invalidInput, isOutriggerError } from '../common/errors.js';
import {
  buildCaptureConfig,
  type CaptureSettingKey,
  CaptureSettingKeys,
  type RawCaptureSettings,
  type RawValue,
} from './build-capture-config.js';
import type { CaptureConfig } from './capture-config.js';
import { parsePort, parsePortList } from './capture-values.js';

/** Istio's annotations that change capture, by the setting they feed. */
export const TrafficAnnotations = {
  includeOutboundIPRanges: 'traffic.sidecar.istio.io/includeOutboundIPRanges',
  excludeOutboundIPRanges: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
  includeInboundPorts: 'traffic.sidecar.istio.io/includeInboundPorts',
  excludeInboundPorts: 'traffic.sidecar.istio.io/excludeInboundPorts',
  includeOutboundPorts: 'traffic.sidecar.istio.io/includeOutboundPorts',
  excludeOutboundPorts: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  excludeInterfaces: 'traffic.sidecar.istio.io/excludeInterfaces',
  kubevirtInterfaces: 'traffic.sidecar.istio.io/kubevirtInterfaces',
  interceptionMode: 'sidecar.istio.io/interceptionMode',
  statusPort: 'status.sidecar.istio.io/port',
} as const;

/** Outrigger's own annotation: the resolved settings of a pod prepared for CNI mode. */
export const CaptureSettingsAnnotation = 'outrigger.dev/capture-settings';

/** The direct one-to-one annotations (the status port and inbound excludes are combined below). */
const DirectAnnotations: readonly (readonly [string, CaptureSettingKey])[] = [
  [TrafficAnnotations.includeOutboundIPRanges, 'outboundIpRangesInclude'],
  [TrafficAnnotations.excludeOutboundIPRanges, 'outboundIpRangesExclude'],
  [TrafficAnnotations.includeInboundPorts, 'inboundPorts'],
  [TrafficAnnotations.includeOutboundPorts, 'outboundPortsInclude'],
  [TrafficAnnotations.excludeOutboundPorts, 'outboundPortsExclude'],
  [TrafficAnnotations.excludeInterfaces, 'excludeInterfaces'],
  [TrafficAnnotations.kubevirtInterfaces, 'kubeVirtInterfaces'],
  [TrafficAnnotations.interceptionMode, 'inboundInterceptionMode'],
];

/** Ports of the proxy itself that are never captured inbound: Prometheus stats and readiness. */
export const ProxyOwnInboundPorts = [15090, 15021] as const;
/** Istio's default status port (the agent's health/metrics merge port). */
export const DefaultStatusPort = 15020;

/**
 * What the injector's configuration sets when a pod has no annotation (mesh-wide defaults).
 * Keys are capture settings; values are raw text as an annotation would carry.
 */
export type CaptureBaseline = Partial<Record<CaptureSettingKey, string>>;

/** Istio's injection defaults: capture every outbound range and every inbound port. */
export const InjectionBaseline: CaptureBaseline = {
  outboundIpRangesInclude: '*',
  outboundIpRangesExclude: '',
  inboundPorts: '*',
  inboundInterceptionMode: 'REDIRECT',
};

type Annotations = Readonly<Record<string, string | undefined>>;

export interface AnnotationSettings {
  /** Raw settings with their sources: an annotation's name, or `injector config <key>`. */
  readonly raw: RawCaptureSettings;
  /** Problems found before parsing (status port, inbound excludes); buildCaptureConfig finds the rest. */
  readonly problems: readonly FieldProblem[];
}

/** Maps Istio's traffic annotations (over a baseline) to raw capture settings. */
export function rawSettingsFromAnnotations(annotations: Annotations, baseline: CaptureBaseline = InjectionBaseline): AnnotationSettings {
  const raw: Partial<Record<CaptureSettingKey, RawValue>> = {};
  const problems: FieldProblem[] = [];
  for (const [key, text] of Object.entries(baseline) as [CaptureSettingKey, string][]) {
    raw[key] = { text, source: `injector config ${key}` };
  }
  for (const [annotation, key] of DirectAnnotations) {
    const text = annotations[annotation];
    if (text !== undefined) raw[key] = { text, source: `annotation ${annotation}` };
  }

  // -d is "15090,15021,<status port>,<excludeInboundPorts>", as Istio's template renders it.
  // Each part is checked on its own so a bad annotation is named with its own text.
  const excluded: string[] = ProxyOwnInboundPorts.map(String);
  const statusText = annotations[TrafficAnnotations.statusPort];
  if (statusText === undefined) excluded.push(String(DefaultStatusPort));
  else if (statusText.trim() !== '0') {
    const status = parsePort(statusText);
    if (status.ok) excluded.push(String(status.value));
    else problems.push({ source: `annotation ${TrafficAnnotations.statusPort}`, value: statusText, reason: `${status.reason} (or 0 for none)` });
  }
  const baselineExclude = baseline.inboundPortsExclude;
  if (baselineExclude) excluded.push(baselineExclude);
  const excludeText = annotations[TrafficAnnotations.excludeInboundPorts];
  if (excludeText !== undefined) {
    const ports = parsePortList(excludeText);
    if (ports.ok) excluded.push(...ports.value.map(String));
    else problems.push({ source: `annotation ${TrafficAnnotations.excludeInboundPorts}`, value: excludeText, reason: ports.reason });
  }
  raw.inboundPortsExclude = {
    text: [...new Set(excluded.flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean))].join(','),
    source: excludeText !== undefined ? `annotation ${TrafficAnnotations.excludeInboundPorts}` : `injector config inboundPortsExclude`,
  };
  return { raw, problems };
}

/**
 * The capture configuration a pod's annotations ask for, or one InvalidInput error naming every
 * bad annotation (and bad baseline value) at once.
 */
export function captureConfigFromAnnotations(
  annotations: Annotations,
  baseline: CaptureBaseline = InjectionBaseline,
): { readonly config: CaptureConfig; readonly raw: RawCaptureSettings } {
  const { raw, problems: found } = rawSettingsFromAnnotations(annotations, baseline);
  const problems = [...found];
  let config: CaptureConfig | undefined;
  try {
    config = buildCaptureConfig(raw);
  } catch (error) {
    if (!isOutriggerError(error)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || !config) throw invalidInput(dedupe(problems), 'pod annotations');
  return { config, raw };
}

function dedupe(problems: readonly FieldProblem[]): FieldProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.source}\u0000${p.value}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Serialises resolved raw settings for `outrigger.dev/capture-settings` (keys sorted, text only). */
export function encodeCaptureSettings(raw: RawCaptureSettings): string {
  const entries = CaptureSettingKeys.flatMap((key) => {
    const value = raw[key];
    return value === undefined ? [] : [[key, value.text] as const];
  });
  return JSON.stringify(Object.fromEntries(entries));
}

/**
 * Reads `outrigger.dev/capture-settings` back into raw settings (source: the annotation and key),
 * refusing anything that is not an object of known keys with string values.
 */
export function decodeCaptureSettings(text: string): RawCaptureSettings {
  const source = `annotation ${CaptureSettingsAnnotation}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalidInput([{ source, value: text, reason: `not JSON: ${error instanceof Error ? error.message : String(error)}` }], 'pod annotations');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidInput([{ source, value: text, reason: 'must be a JSON object of capture settings' }], 'pod annotations');
  }
  const known = new Set<string>(CaptureSettingKeys);
  const raw: Partial<Record<CaptureSettingKey, RawValue>> = {};
  const problems: FieldProblem[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    if (!known.has(key)) problems.push({ source: `${source} .${key}`, value: JSON.stringify(value), reason: 'unknown capture setting' });
    else if (typeof value !== 'string') problems.push({ source: `${source} .${key}`, value: JSON.stringify(value), reason: 'must be a string' });
    else raw[key as CaptureSettingKey] = { text: value, source: `${source} .${key}` };
  }
  if (problems.length > 0) throw invalidInput(problems, 'pod annotations');
  return raw;
}
