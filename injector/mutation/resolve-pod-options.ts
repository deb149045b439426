/**
 * What a pod's annotations ask of the injection, over the injector configuration: capture
 * settings (Istio's traffic annotations through the capture model, so every bad annotation is
 * named; none for interception mode NONE, whose other traffic annotations are still checked),
 * native or classic sidecar, CNI mode, the proxy's resources and log level (Istio's
 * sidecar.istio.io/proxyCPU, proxyMemory, proxyCPULimit, proxyMemoryLimit, logLevel), and the
 * warnings for settings accepted but not followed as written. Problems are collected, not thrown.
 * A capture setting too long for one argument of proxy-init is refused before its list is parsed
 * (init-arg-limit.ts).
 *
 * Successful resolutions are memoised per configuration by the pod's annotations (a Deployment's
 * pods all carry the same ones), in at most OptionsCacheLimits bytes per configuration (see
 * memo-cache.ts), frozen: the options are shared between pods and read-only (their parts may be
 * the configuration's own objects).
 */

import type { FieldProblem } from '../../common/errors.js';
import { isOutriggerError } from '../../common/errors.js';
import { type CaptureSettingKey, CaptureDefaults, CaptureSettingKeys, type RawCaptureSettings } from '../../capture/build-capture-config.js';
import type { CaptureConfig } from '../../capture/capture-config.js';
import type { InterceptionMode } from '../../capture/capture-config.js';
import { type CaptureBaseline, captureConfigFromAnnotations, checkWithoutCapture, interceptsTraffic, type NoInterceptionMode, rawSettingsFromAnnotations } from '../../capture/pod-annotations.js';
import { parseBoolean } from '../../capture/capture-values.js';
import { type EnvoyLogLevel, EnvoyLogLevels, type InjectorConfig } from '../config/injector-config.js';
import type { ResourceRequirements } from '../kube/pod-types.js';
import { isQuantity } from '../kube/quantity.js';
import { initArgProblems } from './init-arg-limit.js';
import { type MemoCache, type MemoCacheLimits, memoCache } from './memo-cache.js';
import { InjectorAnnotations } from './pod-annotations.js';
import { annotationWarnings } from './setting-warnings.js';

/** The capture a pod gets (none for interception mode NONE). */
export interface PodCapture {
  readonly config: CaptureConfig;
  /** The settings as given (baseline and annotations): rendered into proxy-init's args. */
  readonly raw: RawCaptureSettings;
  /** Every setting, defaults filled in: what the CNI plugin applies. */
  readonly resolved: RawCaptureSettings;
}

/** How inbound traffic reaches the proxy, or NONE: the proxy is injected and nothing is captured. */
export type ProxyInterceptionMode = InterceptionMode | typeof NoInterceptionMode;

export interface PodOptions {
  /** null for interception mode NONE: no proxy-init, no proxy-validation, no CNI settings. */
  readonly capture: PodCapture | null;
  readonly interceptionMode: ProxyInterceptionMode;
  readonly nativeSidecar: boolean;
  readonly cniMode: boolean;
  /** The configuration's proxy resources with the pod's sidecar.istio.io/proxy* annotations over them. */
  readonly proxyResources: ResourceRequirements;
  readonly proxyLogLevel: EnvoyLogLevel;
  /** Settings accepted but not followed as written (setting-warnings.ts). */
  readonly warnings: readonly string[];
}

export type ResolvedOptions = { readonly ok: true; readonly options: PodOptions } | { readonly ok: false; readonly problems: readonly FieldProblem[] };

const baselineCache = new WeakMap<InjectorConfig, CaptureBaseline>();

/**
 * The injector's baseline plus what the configuration's `proxy` owns: the proxy's ports and ids,
 * the mesh-wide status port, and the proxy's own inbound ports (Prometheus, readiness), which lead
 * `-d` where Istio's template writes its fixed `15090,15021` (the same numbers by default).
 */
export function captureBaselineOf(config: InjectorConfig): CaptureBaseline {
  const cached = baselineCache.get(config);
  if (cached) return cached;
  const { ports, uid, gid } = config.proxy;
  const baseline: CaptureBaseline = {
    ...config.captureBaseline,
    proxyPort: String(ports.outbound),
    inboundCapturePort: String(ports.inbound),
    proxyUids: String(uid),
    ...(gid !== uid ? { proxyGids: String(gid) } : {}),
    statusPort: ports.status,
    proxyInboundPorts: [ports.prometheus, ports.health],
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

const ResourceAnnotations = [
  [InjectorAnnotations.proxyCpu, 'requests', 'cpu'],
  [InjectorAnnotations.proxyMemory, 'requests', 'memory'],
  [InjectorAnnotations.proxyCpuLimit, 'limits', 'cpu'],
  [InjectorAnnotations.proxyMemoryLimit, 'limits', 'memory'],
] as const;

function readResources(annotations: Readonly<Record<string, string>>, config: InjectorConfig, problems: FieldProblem[]): ResourceRequirements {
  const base = config.proxy.resources;
  if (!ResourceAnnotations.some(([name]) => annotations[name] !== undefined)) return base;
  const out = { requests: { ...base.requests }, limits: { ...base.limits } };
  for (const [name, kind, resource] of ResourceAnnotations) {
    const text = annotations[name];
    if (text === undefined) continue;
    if (isQuantity(text.trim())) out[kind][resource] = text.trim();
    else problems.push({ source: `annotation ${name}`, value: text, reason: 'must be a Kubernetes quantity (e.g. 100m, 128Mi)' });
  }
  return {
    ...(Object.keys(out.requests).length > 0 ? { requests: out.requests } : {}),
    ...(Object.keys(out.limits).length > 0 ? { limits: out.limits } : {}),
  };
}

function readLogLevel(annotations: Readonly<Record<string, string>>, config: InjectorConfig, problems: FieldProblem[]): EnvoyLogLevel {
  const text = annotations[InjectorAnnotations.logLevel];
  if (text === undefined) return config.proxy.logLevel;
  const level = EnvoyLogLevels.find((l) => l === text.trim().toLowerCase());
  if (level) return level;
  problems.push({ source: `annotation ${InjectorAnnotations.logLevel}`, value: text, reason: `must be one of ${EnvoyLogLevels.join(', ')}` });
  return config.proxy.logLevel;
}

/**
 * 2 MiB per configuration: a typical entry (a few annotations, the parsed capture settings) is ~5 KB,
 * so hundreds of distinct annotation sets fit; a pod whose annotations make an entry over 64 KiB
 * (far beyond any real pod's capture annotations) is resolved every time instead.
 */
export const OptionsCacheLimits: MemoCacheLimits = { maxBytes: 2 * 1024 * 1024, maxEntryBytes: 64 * 1024 };
const optionsCache = new WeakMap<InjectorConfig, MemoCache<ResolvedOptions & { ok: true }>>();

/** The parsed settings (CIDR and port lists) take up to ~16 bytes per character of their text. */
function optionsBytes(resolved: ResolvedOptions & { ok: true }): number {
  let text = 0;
  for (const value of Object.values(resolved.options.capture?.raw ?? {})) text += value?.text.length ?? 0;
  return 16 * text + 4096;
}

export function resolvePodOptions(annotations: Readonly<Record<string, string>>, config: InjectorConfig): ResolvedOptions {
  let cache = optionsCache.get(config);
  if (!cache) optionsCache.set(config, (cache = memoCache(OptionsCacheLimits, optionsBytes)));
  const key = JSON.stringify(annotations);
  const cached = cache.get(key);
  if (cached) return cached;
  const resolved = resolveUncached(annotations, config);
  if (resolved.ok) {
    Object.freeze(resolved.options);
    cache.set(key, Object.freeze(resolved));
  }
  return resolved;
}

/** Bytes the options cache of `config` holds by its estimate (for tests). */
export function optionsCacheBytes(config: InjectorConfig): number {
  return optionsCache.get(config)?.calculatedSize ?? 0;
}

function resolveUncached(annotations: Readonly<Record<string, string>>, config: InjectorConfig): ResolvedOptions {
  const problems: FieldProblem[] = [];
  const proxyResources = readResources(annotations, config, problems);
  const proxyLogLevel = readLogLevel(annotations, config, problems);
  const nativeSidecar = readSwitch(annotations, InjectorAnnotations.nativeSidecar, config.nativeSidecars, problems);
  const cniMode = readSwitch(annotations, InjectorAnnotations.cniMode, config.cniMode, problems);
  const baseline = captureBaselineOf(config);
  const intercepts = interceptsTraffic(annotations, baseline);
  let capture: PodCapture | null = null;
  // Settings too long for proxy-init's command line are refused before their lists are parsed.
  const tooLong = initArgProblems(rawSettingsFromAnnotations(annotations, baseline).raw);
  if (tooLong.length > 0) problems.push(...tooLong);
  else {
    try {
      if (intercepts) {
        const { config: captureConfig, raw } = captureConfigFromAnnotations(annotations, baseline);
        const resolved: Partial<Record<CaptureSettingKey, { text: string; source: string }>> = {};
        for (const key of CaptureSettingKeys) resolved[key] = raw[key] ?? { text: CaptureDefaults[key], source: `default ${key}` };
        capture = { config: captureConfig, raw, resolved };
      } else checkWithoutCapture(annotations, baseline);
    } catch (error) {
      if (!isOutriggerError(error)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  const interceptionMode: ProxyInterceptionMode = capture ? capture.config.inboundInterceptionMode : 'NONE';
  const warnings = annotationWarnings(annotations, intercepts);
  return { ok: true, options: { capture, interceptionMode, nativeSidecar, cniMode, proxyResources, proxyLogLevel, warnings } };
}
