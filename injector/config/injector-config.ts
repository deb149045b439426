/**
 * The injector's configuration: what it adds to a pod (images, resources, container names, the
 * proxy's ports and identity, extra env and volumes), how it decides (default policy, never/always
 * selectors) and the mesh-wide capture baseline that pod annotations override.
 *
 * Read from YAML (a ConfigMap in the cluster, `--config-file` offline). Every key is optional;
 * unknown keys and bad values are refused with one InvalidInput error naming every bad field
 * (`config.yaml .proxy.image`). Nothing half-valid is ever returned. A `proxy.bootstrapOverride`
 * is checked merged into the generated bootstrap against Envoy's v3 API (check-bootstrap-override.ts);
 * only then is the Envoy schema read (ReadFailed when the build did not make it).
 */

import { parse as parseYaml } from 'yaml';
import { invalidInput, type FieldProblem } from '../../common/errors.js';
import { type CaptureSettingKey, CaptureSettingKeys } from '../../capture/build-capture-config.js';
import { type CaptureBaseline, captureConfigFromAnnotations, checkWithoutCapture, InjectionBaseline, interceptsTraffic } from '../../capture/pod-annotations.js';
import type { EnvVar, ResourceRequirements, Volume, VolumeMount } from '../kube/pod-types.js';
import { isQuantity } from '../kube/quantity.js';
import { type LabelSelector, type LabelSelectorRequirement, SelectorOperators } from '../kube/label-selector.js';
import { parseBoolean } from '../../capture/capture-values.js';
import { ConfigReader, isPlainObject, type PlainObject } from './config-reader.js';
import { checkBootstrapOverride } from '../envoy/check-bootstrap-override.js';
import { loadEnvoySchema } from '../envoy/load-envoy-schema.js';
import { bootstrapListensOn } from '../envoy/bootstrap-listens-on.js';
import { buildEnvoyBootstrap } from '../envoy/envoy-bootstrap.js';
import { CaptureConstants } from '../../capture/capture-config.js';

export const ImagePullPolicies = ['Always', 'IfNotPresent', 'Never'] as const;
export type ImagePullPolicy = (typeof ImagePullPolicies)[number];

export const InjectionPolicies = ['enabled', 'disabled'] as const;
export type InjectionPolicy = (typeof InjectionPolicies)[number];

export const EnvoyLogLevels = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
export type EnvoyLogLevel = (typeof EnvoyLogLevels)[number];

/** The proxy's well-known ports (Istio's numbers). */
export interface ProxyPorts {
  /** Outbound capture listener; proxy-init's `-p`. Default 15001. */
  readonly outbound: number;
  /** Inbound capture listener; proxy-init's `-z`. Default 15006. */
  readonly inbound: number;
  /** Envoy admin, bound to 127.0.0.1 only. Default 15000. */
  readonly admin: number;
  /** Readiness (`/healthz/ready`), probed by the kubelet. Default 15021. */
  readonly health: number;
  /** Prometheus stats (`/stats/prometheus`). Default 15090. */
  readonly prometheus: number;
  /**
   * Istio's agent status port, mesh-wide (Istio's `global.proxy.statusPort`). Nothing of outrigger
   * listens there; it is excluded from inbound capture as Istio's template excludes it (`-d
   * 15090,15021,15020`), so pods move between Istio and outrigger unchanged. A pod's
   * `status.sidecar.istio.io/port` replaces it. 0: no status port is excluded. Default 15020.
   */
  readonly status: number;
}

export interface ProxySettings {
  /** The proxy image (Envoy). Default `docker.io/envoyproxy/envoy:v1.36.2`. */
  readonly image: string;
  /** Default requests cpu 100m, memory 128Mi; limits cpu 2, memory 1Gi (Istio's). */
  readonly resources: ResourceRequirements;
  /** Extra environment variables for the proxy container. Default none. */
  readonly env: readonly EnvVar[];
  /** Extra pod volumes added with the proxy (listed in the status annotation). Default none. */
  readonly volumes: readonly Volume[];
  /** Extra mounts in the proxy container; names must refer to pod or extra volumes. Default none. */
  readonly volumeMounts: readonly VolumeMount[];
  /** The proxy's user id; its traffic is never captured (`-u`). Default 1337. */
  readonly uid: number;
  /** The proxy's group id (`-g` only when it differs from uid). Default 1337. */
  readonly gid: number;
  readonly ports: ProxyPorts;
  /** Envoy `--log-level`. Default `warning`. */
  readonly logLevel: EnvoyLogLevel;
  /** Envoy `--concurrency` (worker threads). Default 2. */
  readonly concurrency: number;
  /**
   * Merged over the generated Envoy bootstrap (mappings merged key by key, lists replaced).
   * Default none: the generated transparent-proxy bootstrap is used as it is.
   */
  readonly bootstrapOverride?: Readonly<PlainObject>;
}

export interface InitSettings {
  /** The image that runs `outrigger init` (proxy-init and proxy-validation). Default `outrigger/outrigger:0.1.0`. */
  readonly image: string;
  /** Default requests cpu 10m, memory 32Mi; limits cpu 1, memory 256Mi. */
  readonly resources: ResourceRequirements;
}

export interface ContainerNames {
  /** Default `proxy`. */
  readonly proxy: string;
  /** The privileged capture container. Default `proxy-init`. */
  readonly init: string;
  /** The CNI-mode validation container. Default `proxy-validation`. */
  readonly validation: string;
}

export interface InjectorConfig {
  readonly proxy: ProxySettings;
  readonly init: InitSettings;
  /** For every added container; unset leaves the Kubernetes default (by tag). Default unset. */
  readonly imagePullPolicy?: ImagePullPolicy;
  /** Secrets added to the pod's imagePullSecrets (by name) for the added images. Default none. */
  readonly imagePullSecrets: readonly string[];
  readonly containerNames: ContainerNames;
  /** Proxy as a native sidecar (init container with restartPolicy Always). Default true. */
  readonly nativeSidecars: boolean;
  /** Capture is applied by the CNI plugin: proxy-validation instead of proxy-init. Default false. */
  readonly cniMode: boolean;
  /** Whether pods matching nothing else are injected. Default `enabled`. */
  readonly defaultPolicy: InjectionPolicy;
  /** Pods matching any of these are never injected (unless the pod's label/annotation asks). Default none. */
  readonly neverInjectSelector: readonly LabelSelector[];
  /** Pods matching any of these are injected even with defaultPolicy `disabled`. Default none. */
  readonly alwaysInjectSelector: readonly LabelSelector[];
  /**
   * Mesh-wide capture defaults that pod annotations override, keyed by capture setting
   * (`outboundIpRangesExclude: 10.0.0.0/8`, `redirectDns: "true"`...). Default: Istio's
   * injection defaults (`-i '*' -x "" -b '*' -m REDIRECT`). The proxy's ports and ids come from
   * `proxy`, not from here. `inboundPortsExclude` is Istio's `global.proxy.excludeInboundPorts`:
   * a pod's `traffic.sidecar.istio.io/excludeInboundPorts` replaces it (not merged, as in Istio).
   * `inboundInterceptionMode: NONE` injects the proxy and captures nothing, mesh-wide.
   * `nativeNftables: true` (Istio's `global.nativeNftables`) captures
   * with nftables: `--native-nftables` in proxy-init's args, and in CNI mode in the pod's
   * capture settings for the plugin.
   */
  readonly captureBaseline: CaptureBaseline;
  /** Written into `sidecar.istio.io/status` as `revision`. Default `default`. */
  readonly revision: string;
}

export const DefaultProxyPorts: ProxyPorts = { outbound: 15001, inbound: 15006, admin: 15000, health: 15021, prometheus: 15090, status: 15020 };

export const DefaultInjectorConfig: InjectorConfig = {
  proxy: {
    image: 'docker.io/envoyproxy/envoy:v1.36.2',
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
    env: [],
    volumes: [],
    volumeMounts: [],
    uid: 1337,
    gid: 1337,
    ports: DefaultProxyPorts,
    logLevel: 'warning',
    concurrency: 2,
  },
  init: {
    image: 'outrigger/outrigger:0.1.0',
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '1', memory: '256Mi' } },
  },
  imagePullSecrets: [],
  containerNames: { proxy: 'proxy', init: 'proxy-init', validation: 'proxy-validation' },
  nativeSidecars: true,
  cniMode: false,
  defaultPolicy: 'enabled',
  neverInjectSelector: [],
  alwaysInjectSelector: [],
  captureBaseline: InjectionBaseline,
  revision: 'default',
};

/** Capture settings that come from `proxy` (ports, ids) and so may not be set in `capture`. */
const ProxyOwnedSettings: Partial<Record<CaptureSettingKey, string>> = {
  proxyPort: 'proxy.ports.outbound',
  inboundCapturePort: 'proxy.ports.inbound',
  proxyUids: 'proxy.uid',
  proxyGids: 'proxy.gid',
};

const TopKeys = ['proxy', 'init', 'imagePullPolicy', 'imagePullSecrets', 'containerNames', 'nativeSidecars', 'cniMode', 'defaultPolicy', 'neverInjectSelector', 'alwaysInjectSelector', 'capture', 'revision'] as const;
const ProxyKeys = ['image', 'resources', 'env', 'volumes', 'volumeMounts', 'uid', 'gid', 'ports', 'logLevel', 'concurrency', 'bootstrapOverride'] as const;
const PortKeys = ['outbound', 'inbound', 'admin', 'health', 'prometheus', 'status'] as const;
const VolumeMountKeys = ['name', 'mountPath', 'readOnly', 'subPath', 'subPathExpr', 'mountPropagation', 'recursiveReadOnly'] as const;

/** DNS-1123 label: container and volume names. */
const Dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const EnvName = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * Parses the injector's YAML configuration. `source` names the file in problems
 * (`config.yaml .proxy.image "": must not be empty`). Empty text gives the defaults.
 */
export function parseInjectorConfig(text: string, source: string): InjectorConfig {
  let document: unknown;
  try {
    document = parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (error) {
    throw invalidInput([{ source, value: '', reason: `not valid YAML: ${error instanceof Error ? error.message : String(error)}` }], 'injector configuration');
  }
  return injectorConfigFromObject(document, source);
}

/** The same checks over an already parsed value (JSON, or YAML parsed elsewhere). */
export function injectorConfigFromObject(document: unknown, source: string): InjectorConfig {
  const r = new ConfigReader(source);
  const d = DefaultInjectorConfig;
  const top = r.object('.', document, TopKeys);
  const at = (key: string): string => `.${key}`;

  const proxyIn = r.object(at('proxy'), top.proxy, ProxyKeys);
  const portsIn = r.object('.proxy.ports', proxyIn.ports, PortKeys);
  // The status port may be 0 (none excluded), as Istio's statusPort may; the others must be real ports.
  const ports = Object.fromEntries(PortKeys.map((k) => [k, r.integer(`.proxy.ports.${k}`, portsIn[k], d.proxy.ports[k], k === 'status' ? 0 : 1, 65535)])) as unknown as ProxyPorts;
  const seen = new Map<number, string>();
  for (const key of PortKeys) {
    if (ports[key] === 0) continue;
    const other = seen.get(ports[key]);
    if (other) r.bad(`.proxy.ports.${key}`, ports[key], `same port as .proxy.ports.${other}`);
    seen.set(ports[key], key);
  }

  let bootstrapOverride: PlainObject | undefined;
  if (proxyIn.bootstrapOverride !== undefined && proxyIn.bootstrapOverride !== null) {
    if (isPlainObject(proxyIn.bootstrapOverride)) bootstrapOverride = proxyIn.bootstrapOverride;
    else r.bad('.proxy.bootstrapOverride', proxyIn.bootstrapOverride, 'must be a mapping (an Envoy bootstrap fragment)');
  }
  if (bootstrapOverride) {
    for (const v of checkBootstrapOverride(bootstrapOverride, ports, loadEnvoySchema())) r.bad(v.path, v.value ?? '', v.reason);
  }

  const proxyVolumes = r.list('.proxy.volumes', proxyIn.volumes, (p, v) => readVolume(r, p, v));
  const proxyMounts = r.list('.proxy.volumeMounts', proxyIn.volumeMounts, (p, v) => readVolumeMount(r, p, v));

  const proxy: ProxySettings = {
    image: r.string('.proxy.image', proxyIn.image, d.proxy.image),
    resources: readResources(r, '.proxy.resources', proxyIn.resources, d.proxy.resources),
    env: r.list('.proxy.env', proxyIn.env, (p, v) => readEnvVar(r, p, v)),
    volumes: proxyVolumes,
    volumeMounts: proxyMounts,
    uid: r.integer('.proxy.uid', proxyIn.uid, d.proxy.uid, 1, 2147483647),
    gid: r.integer('.proxy.gid', proxyIn.gid, d.proxy.gid, 1, 2147483647),
    ports,
    logLevel: r.oneOf('.proxy.logLevel', proxyIn.logLevel, EnvoyLogLevels, d.proxy.logLevel),
    concurrency: r.integer('.proxy.concurrency', proxyIn.concurrency, d.proxy.concurrency, 0, 1024),
    ...(bootstrapOverride ? { bootstrapOverride } : {}),
  };

  const initIn = r.object(at('init'), top.init, ['image', 'resources']);
  const init: InitSettings = {
    image: r.string('.init.image', initIn.image, d.init.image),
    resources: readResources(r, '.init.resources', initIn.resources, d.init.resources),
  };

  const namesIn = r.object(at('containerNames'), top.containerNames, ['proxy', 'init', 'validation']);
  const names: ContainerNames = {
    proxy: readName(r, '.containerNames.proxy', namesIn.proxy, d.containerNames.proxy),
    init: readName(r, '.containerNames.init', namesIn.init, d.containerNames.init),
    validation: readName(r, '.containerNames.validation', namesIn.validation, d.containerNames.validation),
  };
  if (new Set([names.proxy, names.init, names.validation]).size !== 3) {
    r.bad('.containerNames', namesIn, 'proxy, init and validation names must differ');
  }

  const pullPolicy = top.imagePullPolicy === undefined || top.imagePullPolicy === null ? undefined : r.oneOf('.imagePullPolicy', top.imagePullPolicy, ImagePullPolicies, 'IfNotPresent');

  const captureBaseline = readCaptureBaseline(r, top.capture);

  const config: InjectorConfig = {
    proxy,
    init,
    ...(pullPolicy ? { imagePullPolicy: pullPolicy } : {}),
    imagePullSecrets: r.list('.imagePullSecrets', top.imagePullSecrets, (p, v) => {
      const name = r.string(p, v, '');
      return name === '' ? undefined : name;
    }),
    containerNames: names,
    nativeSidecars: r.boolean('.nativeSidecars', top.nativeSidecars, d.nativeSidecars),
    cniMode: r.boolean('.cniMode', top.cniMode, d.cniMode),
    defaultPolicy: r.oneOf('.defaultPolicy', top.defaultPolicy, InjectionPolicies, d.defaultPolicy),
    neverInjectSelector: r.list('.neverInjectSelector', top.neverInjectSelector, (p, v) => readSelector(r, p, v)),
    alwaysInjectSelector: r.list('.alwaysInjectSelector', top.alwaysInjectSelector, (p, v) => readSelector(r, p, v)),
    captureBaseline,
    revision: r.string('.revision', top.revision, d.revision),
  };

  checkBaselineValues(r, config);
  if (r.problems.length > 0) throw invalidInput(r.problems, 'injector configuration');
  return config;
}

function readName(r: ConfigReader, path: string, value: unknown, fallback: string): string {
  const name = r.string(path, value, fallback);
  if (name.length > 63 || !Dns1123Label.test(name)) {
    r.bad(path, value, 'must be a DNS-1123 label (lower-case letters, digits and "-", at most 63)');
    return fallback;
  }
  return name;
}

function readResources(r: ConfigReader, path: string, value: unknown, fallback: ResourceRequirements): ResourceRequirements {
  if (value === undefined || value === null) return fallback;
  const o = r.object(path, value, ['requests', 'limits']);
  const check = (v: string): string | undefined => (isQuantity(v) ? undefined : 'must be a Kubernetes quantity (e.g. 100m, 128Mi)');
  const out: ResourceRequirements = {};
  if (o.requests !== undefined) out.requests = r.stringMap(`${path}.requests`, o.requests, check);
  if (o.limits !== undefined) out.limits = r.stringMap(`${path}.limits`, o.limits, check);
  return out;
}

function readEnvVar(r: ConfigReader, path: string, value: unknown): EnvVar | undefined {
  const o = r.object(path, value, ['name', 'value', 'valueFrom']);
  if (!isPlainObject(value)) return undefined;
  const name = r.string(`${path}.name`, o.name, '');
  if (name === '' ) {
    if (o.name === undefined) r.bad(`${path}.name`, '', 'is required');
    return undefined;
  }
  if (!EnvName.test(name)) r.bad(`${path}.name`, name, 'must be a C identifier-like name (letters, digits, "_", "-", ".")');
  const env: EnvVar = { name };
  if (o.value !== undefined) {
    if (typeof o.value === 'string') env.value = o.value;
    else r.bad(`${path}.value`, o.value, 'must be a string (quote numbers and booleans)');
  }
  if (o.valueFrom !== undefined) {
    if (isPlainObject(o.valueFrom)) env.valueFrom = o.valueFrom;
    else r.bad(`${path}.valueFrom`, o.valueFrom, 'must be a mapping');
  }
  if (env.value !== undefined && env.valueFrom !== undefined) r.bad(path, name, 'value and valueFrom are exclusive');
  return env;
}

function readVolume(r: ConfigReader, path: string, value: unknown): Volume | undefined {
  if (!isPlainObject(value)) {
    r.bad(path, value, 'must be a mapping (a Kubernetes volume)');
    return undefined;
  }
  const name = readName(r, `${path}.name`, value.name ?? '', '');
  if (name === '') return undefined;
  if (Object.keys(value).length !== 2) r.bad(path, value, 'must have a name and exactly one volume source (emptyDir, secret, configMap...)');
  return { ...value, name };
}

function readVolumeMount(r: ConfigReader, path: string, value: unknown): VolumeMount | undefined {
  const o = r.object(path, value, VolumeMountKeys);
  if (!isPlainObject(value)) return undefined;
  const name = r.string(`${path}.name`, o.name, '');
  const mountPath = r.string(`${path}.mountPath`, o.mountPath, '');
  if (name === '' || mountPath === '') {
    if (o.name === undefined) r.bad(`${path}.name`, '', 'is required');
    if (o.mountPath === undefined) r.bad(`${path}.mountPath`, '', 'is required');
    return undefined;
  }
  if (!mountPath.startsWith('/')) r.bad(`${path}.mountPath`, mountPath, 'must be an absolute path');
  if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') r.bad(`${path}.readOnly`, o.readOnly, 'must be true or false');
  return { ...o, name, mountPath };
}

function readSelector(r: ConfigReader, path: string, value: unknown): LabelSelector | undefined {
  const o = r.object(path, value, ['matchLabels', 'matchExpressions']);
  if (!isPlainObject(value)) return undefined;
  const matchLabels = r.stringMap(`${path}.matchLabels`, o.matchLabels);
  const matchExpressions = r.list(`${path}.matchExpressions`, o.matchExpressions, (p, v): LabelSelectorRequirement | undefined => {
    const e = r.object(p, v, ['key', 'operator', 'values']);
    if (!isPlainObject(v)) return undefined;
    const key = r.string(`${p}.key`, e.key, '');
    if (key === '' && e.key === undefined) r.bad(`${p}.key`, '', 'is required');
    const operator = r.oneOf(`${p}.operator`, e.operator, SelectorOperators, 'Exists');
    if (e.operator === undefined) r.bad(`${p}.operator`, '', `is required (${SelectorOperators.join(', ')})`);
    const values = r.list(`${p}.values`, e.values, (vp, item) => {
      if (typeof item === 'string') return item;
      r.bad(vp, item, 'must be a string');
      return undefined;
    });
    const needsValues = operator === 'In' || operator === 'NotIn';
    if (needsValues && values.length === 0) r.bad(`${p}.values`, e.values ?? [], `must not be empty for ${operator}`);
    if (!needsValues && values.length > 0) r.bad(`${p}.values`, e.values, `must be empty for ${operator}`);
    return needsValues ? { key, operator, values } : { key, operator };
  });
  return { ...(o.matchLabels !== undefined ? { matchLabels } : {}), ...(o.matchExpressions !== undefined ? { matchExpressions } : {}) };
}

function readCaptureBaseline(r: ConfigReader, value: unknown): CaptureBaseline {
  if (value === undefined || value === null) return InjectionBaseline;
  const o = r.object('.capture', value, CaptureSettingKeys);
  const baseline: Partial<Record<CaptureSettingKey, string>> = { ...InjectionBaseline };
  for (const [key, v] of Object.entries(o) as [CaptureSettingKey, unknown][]) {
    if (!(CaptureSettingKeys as readonly string[]).includes(key)) continue;
    const owner = ProxyOwnedSettings[key];
    if (owner) {
      r.bad(`.capture.${key}`, v, `set ${owner} instead (the proxy and its capture must agree)`);
      continue;
    }
    if (typeof v === 'string') baseline[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') baseline[key] = String(v);
    else if (Array.isArray(v) && v.every((i) => typeof i === 'string' || typeof i === 'number')) baseline[key] = v.join(',');
    else r.bad(`.capture.${key}`, v, 'must be a string, number, boolean or list of them');
  }
  return baseline;
}

/** Runs the baseline through the capture model, so a bad CIDR is refused at load, not per pod. */
function checkBaselineValues(r: ConfigReader, config: InjectorConfig): void {
  const dns = config.captureBaseline.redirectDns;
  const dnsOn = dns === undefined ? undefined : parseBoolean(dns);
  if (dns !== undefined && dnsOn?.ok && dnsOn.value) {
    const { ports, bootstrapOverride } = config.proxy;
    const bootstrap = buildEnvoyBootstrap({ ports, interceptionMode: 'REDIRECT', ...(bootstrapOverride ? { override: bootstrapOverride } : {}) });
    const port = CaptureConstants.dnsListenerPort;
    if (!bootstrapListensOn(bootstrap, port, 'UDP')) {
      const has = bootstrapOverride ? 'the bootstrap with proxy.bootstrapOverride has' : 'the generated Envoy bootstrap has';
      r.bad('.capture.redirectDns', dns, `${has} no UDP listener on ${port}, so captured DNS would fail; add one (e.g. with Envoy's dns_filter) with proxy.bootstrapOverride or leave DNS uncaptured`);
    }
  }
  try {
    if (interceptsTraffic({}, config.captureBaseline)) captureConfigFromAnnotations({}, config.captureBaseline);
    else checkWithoutCapture({}, config.captureBaseline);
  } catch (error) {
    const problems: readonly FieldProblem[] = (error as { problems?: readonly FieldProblem[] }).problems ?? [];
    for (const p of problems) {
      const key = p.source.replace(/^injector config /, '');
      r.bad(`.capture.${key}`, p.value, p.reason);
    }
    if (problems.length === 0) r.bad('.capture', '', error instanceof Error ? error.message : String(error));
  }
}
