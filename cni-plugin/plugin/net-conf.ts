/**
 * outrigger-cni's network config (the plugin's entry in the conflist, as the runtime hands it
 * over on stdin), parsed into a typed model or one error naming every bad field (CNI code 7).
 *
 *   {
 *     "cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "outrigger-cni",
 *     "excludeNamespaces": ["kube-system"],           // default ["kube-system"]
 *     "kubeconfig": "/etc/cni/net.d/outrigger-kubeconfig", // optional: API fallback
 *     "apiTimeoutSeconds": 10,                         // overall deadline of the API fallback
 *     "iptablesBackend": "auto",                       // auto | legacy | nft | plain
 *     "nativeNftables": false,                         // default for pods whose settings do not say
 *     "logLevel": "info", "logFile": "/var/log/outrigger-cni.log", // default: stderr
 *     "capabilities": {"io.kubernetes.cri.pod-annotations": true},
 *     "runtimeConfig": {"io.kubernetes.cri.pod-annotations": {...}}, // filled by the runtime
 *     "prevResult": {...}                              // filled by the runtime
 *   }
 *
 * Fields this plugin does not know (and the runtime's own, like `capabilities`) are ignored, as
 * CNI plugins do. Nothing here does I/O.
 */

import { type BackendChoice, BackendChoices } from '../../apply/select-backend.js';
import { isLogLevel, type LogLevel, LogLevels } from '../../common/log-levels.js';
import { type FieldProblem, invalidInput } from '../../common/errors.js';

export const PluginType = 'outrigger-cni';
export const PodAnnotationsCapability = 'io.kubernetes.cri.pod-annotations';


export const NetConfDefaults = {
  excludeNamespaces: ['kube-system'],
  apiTimeoutSeconds: 10,
  iptablesBackend: 'auto',
  nativeNftables: false,
  logLevel: 'info',
} as const;

export interface NetConf {
  readonly name: string;
  readonly excludeNamespaces: readonly string[];
  readonly kubeconfig: string | null;
  readonly apiTimeoutSeconds: number;
  readonly iptablesBackend: BackendChoice;
  /**
   * Capture with native nftables for pods whose capture settings do not say (Istio's
   * `native_nftables`; a pod's `outrigger.dev/capture-settings` carries `nativeNftables`, which wins).
   */
  readonly nativeNftables: boolean;
  readonly logLevel: LogLevel;
  readonly logFile: string | null;
  /** The pod's annotations from runtimeConfig; null when the runtime passed none. */
  readonly podAnnotations: Readonly<Record<string, string>> | null;
  /** The previous plugin's result (still unvalidated: the command decides if it is required). */
  readonly prevResult: unknown;
}

type Json = Readonly<Record<string, unknown>>;

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

export function parseNetConf(config: Json): NetConf {
  const problems: FieldProblem[] = [];
  const bad = (source: string, value: unknown, reason: string) => problems.push({ source, value: show(value), reason });

  const name = config.name;
  if (typeof name !== 'string' || name.trim() === '') bad('name', name, 'must be a non-empty string');
  if (config.type !== PluginType) bad('type', config.type, `must be ${show(PluginType)}`);

  let excludeNamespaces: readonly string[] = NetConfDefaults.excludeNamespaces;
  if (config.excludeNamespaces !== undefined) {
    const list = config.excludeNamespaces;
    if (!Array.isArray(list) || !list.every((n) => typeof n === 'string' && /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n))) {
      bad('excludeNamespaces', list, 'must be an array of namespace names');
    } else excludeNamespaces = list as string[];
  }

  let kubeconfig: string | null = null;
  if (config.kubeconfig !== undefined && config.kubeconfig !== '') {
    if (typeof config.kubeconfig !== 'string' || !config.kubeconfig.startsWith('/')) bad('kubeconfig', config.kubeconfig, 'must be an absolute file path');
    else kubeconfig = config.kubeconfig;
  }

  let apiTimeoutSeconds: number = NetConfDefaults.apiTimeoutSeconds;
  if (config.apiTimeoutSeconds !== undefined) {
    const t = config.apiTimeoutSeconds;
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0.1 || t > 120) bad('apiTimeoutSeconds', t, 'must be a number of seconds from 0.1 to 120');
    else apiTimeoutSeconds = t;
  }

  let iptablesBackend: BackendChoice = NetConfDefaults.iptablesBackend;
  if (config.iptablesBackend !== undefined) {
    const b = config.iptablesBackend;
    if (typeof b !== 'string' || !(BackendChoices as readonly string[]).includes(b)) bad('iptablesBackend', b, `must be one of ${BackendChoices.join(', ')}`);
    else iptablesBackend = b as BackendChoice;
  }

  let nativeNftables: boolean = NetConfDefaults.nativeNftables;
  if (config.nativeNftables !== undefined) {
    if (typeof config.nativeNftables !== 'boolean') bad('nativeNftables', config.nativeNftables, 'must be true or false');
    else nativeNftables = config.nativeNftables;
  }

  let logLevel: LogLevel = NetConfDefaults.logLevel;
  if (config.logLevel !== undefined) {
    const l = config.logLevel;
    if (typeof l !== 'string' || !isLogLevel(l)) bad('logLevel', l, `must be one of ${LogLevels.join(', ')}`);
    else logLevel = l;
  }

  let logFile: string | null = null;
  if (config.logFile !== undefined && config.logFile !== '') {
    if (typeof config.logFile !== 'string' || !config.logFile.startsWith('/')) bad('logFile', config.logFile, 'must be an absolute file path');
    else logFile = config.logFile;
  }

  let podAnnotations: Record<string, string> | null = null;
  const runtimeConfig = config.runtimeConfig;
  if (runtimeConfig !== undefined) {
    if (typeof runtimeConfig !== 'object' || runtimeConfig === null || Array.isArray(runtimeConfig)) bad('runtimeConfig', runtimeConfig, 'must be an object');
    else {
      const annotations = (runtimeConfig as Json)[PodAnnotationsCapability];
      const source = `runtimeConfig.${PodAnnotationsCapability}`;
      if (annotations === undefined || annotations === null) podAnnotations = null;
      else if (typeof annotations !== 'object' || Array.isArray(annotations)) bad(source, annotations, 'must be an object of annotation names to strings');
      else {
        const entries = Object.entries(annotations as Json);
        const nonString = entries.filter(([, v]) => typeof v !== 'string');
        if (nonString.length > 0) for (const [k, v] of nonString) bad(`${source}.${k}`, v, 'must be a string');
        else podAnnotations = Object.fromEntries(entries) as Record<string, string>;
      }
    }
  }

  if (problems.length > 0) throw invalidInput(problems, 'outrigger-cni network config');
  return {
    name: name as string,
    excludeNamespaces,
    kubeconfig,
    apiTimeoutSeconds,
    iptablesBackend,
    nativeNftables,
    logLevel,
    logFile,
    podAnnotations,
    prevResult: config.prevResult,
  };
}
