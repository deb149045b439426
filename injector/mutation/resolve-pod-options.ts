/**
 * What a pod's annotations ask of the injection, over the injector configuration: capture
 * settings (Istio's traffic annotations through the capture model, so every bad annotation is
 * named), native or classic sidecar, and CNI mode. Problems are collected, not thrown.
 */

import type { FieldProblem } from '../../common/errors.js';
import { isOutriggerError } from '../../common/errors.js';
import { type CaptureSettingKey, CaptureDefaults, CaptureSettingKeys, type RawCaptureSettings } from '../../capture/build-capture-config.js';
import type { CaptureConfig } from '../../capture/capture-config.js';
import { type CaptureBaseline, captureConfigFromAnnotations, DefaultStatusPort, ProxyOwnInboundPorts } from '../../capture/pod-annotations.js';
import { parseBoolean } from '../../capture/capture-values.js';
import type { InjectorConfig } from '../config/injector-config.js';
import { InjectorAnnotations } from './pod-annotations.js';

export interface PodOptions {
  readonly capture: CaptureConfig;
  /** The settings as given (baseline and annotations): rendered into proxy-init's args. */
  readonly raw: RawCaptureSettings;
  /** Every setting, defaults filled in: what the CNI plugin applies. */
  readonly resolved: RawCaptureSettings;
  readonly nativeSidecar: boolean;
  readonly cniMode: boolean;
}

export type ResolvedOptions = { readonly ok: true; readonly options: PodOptions } | { readonly ok: false; readonly problems: readonly FieldProblem[] };

const baselineCache = new WeakMap<InjectorConfig, CaptureBaseline>();

/** The injector's baseline plus the proxy's own ports and ids, which the configuration owns. */
export function captureBaselineOf(config: InjectorConfig): CaptureBaseline {
  const cached = baselineCache.get(config);
  if (cached) return cached;
  const { ports, uid, gid } = config.proxy;
  // Ports the proxy serves on that pod-annotations does not already exclude (non-default ports).
  const fixed = new Set<number>([...ProxyOwnInboundPorts, DefaultStatusPort]);
  const ownExcludes = [ports.prometheus, ports.health, ports.status].filter((p) => !fixed.has(p));
  const configured = config.captureBaseline.inboundPortsExclude;
  const inboundPortsExclude = [...ownExcludes.map(String), ...(configured ? [configured] : [])].join(',');
  const baseline: CaptureBaseline = {
    ...config.captureBaseline,
    proxyPort: String(ports.outbound),
    inboundCapturePort: String(ports.inbound),
    proxyUids: String(uid),
    ...(gid !== uid ? { proxyGids: String(gid) } : {}),
    ...(inboundPortsExclude ? { inboundPortsExclude } : {}),
  };
  baselineCache.set(config, baseline);
  return baseline;
}

function readSwitch(annotations: Readonly<Record<string, string>>, name: string, fallback: boolean, problems: FieldProblem[]): boolean {
  const text = annotations[name];
  if (text === undefined) return fallback;
  const parsed = parseBoolean(text);
  if (parsed.ok) return parsed.value;
  problems.push({ source: `annotation ${name}`, value: text, reason: 'must be "true" or "false"' });
  return fallback;
}

export function resolvePodOptions(annotations: Readonly<Record<string, string>>, config: InjectorConfig): ResolvedOptions {
  const problems: FieldProblem[] = [];
  const nativeSidecar = readSwitch(annotations, InjectorAnnotations.nativeSidecar, config.nativeSidecars, problems);
  const cniMode = readSwitch(annotations, InjectorAnnotations.cniMode, config.cniMode, problems);
  let capture: { config: CaptureConfig; raw: RawCaptureSettings } | undefined;
  try {
    capture = captureConfigFromAnnotations(annotations, captureBaselineOf(config));
  } catch (error) {
    if (!isOutriggerError(error)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || !capture) return { ok: false, problems };
  const resolved: Partial<Record<CaptureSettingKey, { text: string; source: string }>> = {};
  for (const key of CaptureSettingKeys) {
    resolved[key] = capture.raw[key] ?? { text: CaptureDefaults[key], source: `default ${key}` };
  }
  return { ok: true, options: { capture: capture.config, raw: capture.raw, resolved, nativeSidecar, cniMode } };
}
