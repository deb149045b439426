/**
 * The pod-annotation surface of the capture model, shared by the injector and the CNI plugin.
 *
 * - Istio's traffic annotations (`traffic.sidecar.istio.io/*`, `istio.io/reroute-virtual-interfaces`,
 *   `sidecar.istio.io/interceptionMode`, `status.sidecar.istio.io/port`) map onto capture settings
 *   with the arithmetic of Istio's injection template: `-k` from reroute-virtual-interfaces, else the
 *   deprecated kubevirtInterfaces; `-d` is `15090,15021,` then the status port added to the inbound
 *   excludes (the pod's annotation *instead of* the mesh-wide list) unless listed or 0.
 * - `outrigger.dev/capture-settings` carries the complete, resolved settings (JSON, keyed by
 *   CaptureSettingKey) that the injector computed for a pod in CNI mode, so the CNI plugin applies
 *   exactly what the injector validated, whatever the injector's configuration is later.
 * - Interception mode `NONE` (Istio's "inject the proxy, capture nothing") is not a capture mode:
 *   `interceptsTraffic` says whether a pod's annotations (or the baseline) ask for it, and callers
 *   then set up no capture at all. The capture model itself knows only REDIRECT and TPROXY.
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
import { type CaptureConfig, InterceptionModes } from './capture-config.js';
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
  /** Deprecated by Istio in favour of rerouteVirtualInterfaces, which wins when both are set. */
  kubevirtInterfaces: 'traffic.sidecar.istio.io/kubevirtInterfaces',
  rerouteVirtualInterfaces: 'istio.io/reroute-virtual-interfaces',
  interceptionMode: 'sidecar.istio.io/interceptionMode',
  statusPort: 'status.sidecar.istio.io/port',
} as const;

/** Outrigger's own annotation: the resolved settings of a pod prepared for CNI mode. */
export const CaptureSettingsAnnotation = 'outrigger.dev/capture-settings';

/**
 * The direct one-to-one annotations (the status port and inbound excludes are combined below, and
 * so are the two names of `-k`).
 */
const DirectAnnotations: readonly (readonly [string, CaptureSettingKey])[] = [
  [TrafficAnnotations.includeOutboundIPRanges, 'outboundIpRangesInclude'],
  [TrafficAnnotations.excludeOutboundIPRanges, 'outboundIpRangesExclude'],
  [TrafficAnnotations.includeInboundPorts, 'inboundPorts'],
  [TrafficAnnotations.includeOutboundPorts, 'outboundPortsInclude'],
  [TrafficAnnotations.excludeOutboundPorts, 'outboundPortsExclude'],
  [TrafficAnnotations.excludeInterfaces, 'excludeInterfaces'],
];

/** The pod annotation that sets a capture setting, if there is one (for messages that say what to change). */
export function annotationOfSetting(key: CaptureSettingKey): string | undefined {
  const direct = DirectAnnotations.find(([, setting]) => setting === key)?.[0];
  if (direct) return direct;
  const others: Partial<Record<CaptureSettingKey, string>> = {
    inboundPortsExclude: TrafficAnnotations.excludeInboundPorts,
    kubeVirtInterfaces: TrafficAnnotations.rerouteVirtualInterfaces,
    inboundInterceptionMode: TrafficAnnotations.interceptionMode,
  };
  return others[key];
}

/** Ports of the proxy itself that are never captured inbound: Prometheus stats and readiness (Istio's `15090,15021`). */
export const ProxyOwnInboundPorts = [15090, 15021] as const;
/** Istio's default status port (the agent's health/metrics merge port). */
export const DefaultStatusPort = 15020;

/** Istio's interception mode that injects the proxy and captures nothing. */
export const NoInterceptionMode = 'NONE';

/**
 * What the injector's configuration sets when a pod has no annotation (mesh-wide defaults).
 * Capture-setting keys carry raw text as an annotation would (`inboundInterceptionMode` may also
 * be `NONE`); the two others feed `-d`:
 */
export type CaptureBaseline = Partial<Record<CaptureSettingKey, string>> & {
  /**
   * The mesh-wide status port (Istio's `global.proxy.statusPort`), excluded from inbound capture
   * unless `status.sidecar.istio.io/port` says otherwise; 0 excludes none. Default 15020.
   */
  readonly statusPort?: number;
  /** The proxy's own inbound ports, always first in `-d`. Default Istio's `15090,15021`. */
  readonly proxyInboundPorts?: readonly number[];
};

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
  for (const key of CaptureSettingKeys) {
    const text = baseline[key];
    if (text !== undefined) raw[key] = { text, source: `injector config ${key}` };
  }
  for (const [annotation, key] of DirectAnnotations) {
    const text = annotations[annotation];
    if (text !== undefined) raw[key] = { text, source: `annotation ${annotation}` };
  }
  const mode = annotations[TrafficAnnotations.interceptionMode];
  if (mode !== undefined) {
    const known = [...InterceptionModes, NoInterceptionMode] as readonly string[];
    if (known.includes(mode.trim().toUpperCase())) raw.inboundInterceptionMode = { text: mode, source: `annotation ${TrafficAnnotations.interceptionMode}` };
    else problems.push({ source: `annotation ${TrafficAnnotations.interceptionMode}`, value: mode, reason: `must be one of ${known.join(', ')}` });
  }
  // -k: Istio's template reads the new name if present (even empty), else the deprecated one.
  for (const annotation of [TrafficAnnotations.rerouteVirtualInterfaces, TrafficAnnotations.kubevirtInterfaces]) {
    const text = annotations[annotation];
    if (text === undefined) continue;
    raw.kubeVirtInterfaces = { text, source: `annotation ${annotation}` };
    break;
  }
  raw.inboundPortsExclude = inboundExcludes(annotations, baseline, problems);
  return { raw, problems };
}

/**
 * `-d` as Istio's template computes it: the proxy's own ports (`15090,15021`), then the status
 * port (annotation, else mesh-wide) added to the inbound excludes (the annotation when present,
 * even empty, *instead of* the mesh-wide list) unless it is already listed, 0 or empty (Istio's
 * `excludeInboundPort`). Each part is checked on its own so a bad value is named with its own text.
 */
function inboundExcludes(annotations: Annotations, baseline: CaptureBaseline, problems: FieldProblem[]): RawValue {
  const statusAnnotation = annotations[TrafficAnnotations.statusPort];
  const statusText = (statusAnnotation ?? String(baseline.statusPort ?? DefaultStatusPort)).trim();
  let status = '';
  // Istio refuses an empty annotation (not a port) and reads 0 as "no status port".
  if (statusText !== '0' && (statusText !== '' || statusAnnotation !== undefined)) {
    const parsed = parsePort(statusText);
    if (parsed.ok) status = statusText;
    else problems.push({ source: `annotation ${TrafficAnnotations.statusPort}`, value: statusAnnotation ?? statusText, reason: `${parsed.reason} (or 0 for none)` });
  }
  const excludeAnnotation = annotations[TrafficAnnotations.excludeInboundPorts];
  const excludeText = excludeAnnotation ?? baseline.inboundPortsExclude ?? '';
  const excludeSource = excludeAnnotation !== undefined ? `annotation ${TrafficAnnotations.excludeInboundPorts}` : 'injector config inboundPortsExclude';
  const ports = parsePortList(excludeText);
  if (!ports.ok) problems.push({ source: excludeSource, value: excludeText, reason: ports.reason });
  // A bad list is named above with its own text; it is left out so it is not named again.
  let excludes = ports.ok ? excludeText : '';
  if (status !== '' && !excludes.split(',').includes(status)) {
    excludes = [...excludes.split(',').map((p) => p.trim()).filter(Boolean), status].join(',');
  }
  const own = (baseline.proxyInboundPorts ?? ProxyOwnInboundPorts).join(',');
  return { text: excludes === '' ? own : `${own},${excludes}`, source: excludeSource };
}

/**
 * Whether the pod's annotations (over the baseline) ask for capture at all: false for Istio's
 * interception mode NONE (any case, as the mode is parsed everywhere else), which injects the
 * proxy and sets up no capture.
 */
export function interceptsTraffic(annotations: Annotations, baseline: CaptureBaseline = InjectionBaseline): boolean {
  const mode = annotations[TrafficAnnotations.interceptionMode] ?? baseline.inboundInterceptionMode ?? '';
  return mode.trim().toUpperCase() !== NoInterceptionMode;
}

/**
 * The capture configuration a pod's annotations ask for, or one InvalidInput error naming every
 * bad annotation (and bad baseline value) at once. Mode NONE has no capture configuration (it is
 * refused here as a capture mode): check `interceptsTraffic` first, and `checkWithoutCapture`.
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

/**
 * For a pod that captures nothing (mode NONE): checks every other traffic annotation as capture
 * would, so a typo is still named (Istio validates annotations whatever the mode). The mode is
 * taken as REDIRECT for the check only. Throws like captureConfigFromAnnotations.
 */
export function checkWithoutCapture(annotations: Annotations, baseline: CaptureBaseline = InjectionBaseline): void {
  const redirect = 'REDIRECT';
  captureConfigFromAnnotations({ ...annotations, [TrafficAnnotations.interceptionMode]: redirect }, { ...baseline, inboundInterceptionMode: redirect });
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
