/**
 * The containers the injector adds: `proxy-init` (applies capture with `outrigger init`),
 * `proxy-validation` (CNI mode: proves the CNI plugin's capture works, with no privileges) and
 * `proxy` (Envoy with the generated transparent-proxy bootstrap; with interception mode NONE only
 * the proxy, without capture listeners). Least privilege throughout:
 * proxy-init gets only NET_ADMIN and NET_RAW; the others run as the proxy's user with nothing.
 * The builders return shared, deep-frozen containers memoised per configuration and resolved
 * options (container-cache.ts): a pod's copy must never be changed in place.
 */

import { cloneJson } from './clone-json.js';
import { cachedContainer } from './container-cache.js';
import { CaptureFlags } from '../../capture/capture-flags.js';
import { type InitInvocation, renderInitArgs } from '../../capture/render-init-args.js';
import type { InjectorConfig } from '../config/injector-config.js';
import { buildEnvoyBootstrap, renderBootstrapArg } from '../envoy/envoy-bootstrap.js';
import type { Container, EnvVar, SecurityContext } from '../kube/pod-types.js';
import type { PodCapture, PodOptions } from './resolve-pod-options.js';

function pullPolicy(config: InjectorConfig): Pick<Container, 'imagePullPolicy'> {
  return config.imagePullPolicy ? { imagePullPolicy: config.imagePullPolicy } : {};
}

function envList(env: Readonly<Record<string, string>>): EnvVar[] {
  return Object.entries(env).map(([name, value]) => ({ name, value }));
}

/** The order of Istio's injection template (`-p -z -u -m -i -x -b -d -q -o -k -c`), others after. */
const IstioFlagOrder = ['-p', '-z', '-u', '-g', '-m', '-i', '-x', '-b', '-d', '-q', '-o', '-k', '-c'];
const BooleanFlags = new Set(CaptureFlags.filter((f) => f.kind === 'boolean').map((f) => `--${f.long}`));

/**
 * proxy-init's args exactly as Istio's template writes them, so a diff against an Istio-injected
 * pod shows only real differences. The flags and values are renderInitArgs'; only the order changes.
 */
export function initInvocation(capture: PodCapture): InitInvocation {
  const rendered = renderInitArgs(capture.raw);
  const units: string[][] = [];
  for (let i = 0; i < rendered.args.length; i++) {
    const flag = rendered.args[i] as string;
    if (BooleanFlags.has(flag) || i + 1 >= rendered.args.length) units.push([flag]);
    else units.push([flag, rendered.args[++i] as string]);
  }
  const rank = (unit: string[]): number => {
    const at = IstioFlagOrder.indexOf(unit[0] as string);
    return at === -1 ? IstioFlagOrder.length : at;
  };
  const ordered = units.map((unit, index) => ({ unit, index })).sort((a, b) => rank(a.unit) - rank(b.unit) || a.index - b.index);
  return { args: ordered.flatMap((o) => o.unit), env: rendered.env };
}

/** `outrigger init` with istio-iptables flags rendered from the pod's settings. */
export function buildInitContainer(config: InjectorConfig, capture: PodCapture): Container {
  // capture.raw determines the invocation; keying by it skips rendering the args on a hit.
  return cachedContainer(config, `init ${JSON.stringify(capture.raw)}`, () => initContainer(config, initInvocation(capture)));
}

function initContainer(config: InjectorConfig, invocation: InitInvocation): Container {
  const env = envList(invocation.env);
  return {
    name: config.containerNames.init,
    image: config.init.image,
    ...pullPolicy(config),
    command: ['outrigger'],
    args: ['init', ...invocation.args],
    ...(env.length > 0 ? { env } : {}),
    resources: cloneJson(config.init.resources),
    securityContext: {
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsGroup: 0,
      runAsNonRoot: false,
      runAsUser: 0,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/** CNI mode: checks that the CNI plugin's rules redirect traffic (exit 126 if not), applies nothing. */
export function buildValidationContainer(config: InjectorConfig, capture: PodCapture): Container {
  return cachedContainer(config, `validation ${JSON.stringify(capture.raw)}`, () => validationContainer(config, initInvocation(capture)));
}

function validationContainer(config: InjectorConfig, invocation: InitInvocation): Container {
  const env = envList(invocation.env);
  return {
    name: config.containerNames.validation,
    image: config.init.image,
    ...pullPolicy(config),
    command: ['outrigger'],
    args: ['init', ...invocation.args, '--run-validation', '--skip-rule-apply'],
    ...(env.length > 0 ? { env } : {}),
    resources: cloneJson(config.init.resources),
    securityContext: proxyUserContext(config),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

function proxyUserContext(config: InjectorConfig): SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    runAsGroup: config.proxy.gid,
    runAsNonRoot: true,
    runAsUser: config.proxy.uid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * TPROXY mode needs IP_TRANSPARENT on the inbound listener, so (as in Istio) the proxy runs as
 * root with NET_ADMIN and keeps the proxy's group: capture excludes it by group (`-g`).
 */
function proxySecurityContext(config: InjectorConfig, options: PodOptions): SecurityContext {
  if (options.interceptionMode !== 'TPROXY') return proxyUserContext(config);
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    runAsGroup: config.proxy.gid,
    runAsNonRoot: false,
    runAsUser: 0,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

const bootstrapCache = new WeakMap<InjectorConfig, Map<string, string>>();

function bootstrapArg(config: InjectorConfig, options: PodOptions): string {
  let byMode = bootstrapCache.get(config);
  if (!byMode) bootstrapCache.set(config, (byMode = new Map()));
  const mode = options.interceptionMode;
  let arg = byMode.get(mode);
  if (arg === undefined) {
    const bootstrap = buildEnvoyBootstrap({ ports: config.proxy.ports, interceptionMode: mode, ...(config.proxy.bootstrapOverride ? { override: config.proxy.bootstrapOverride } : {}) });
    arg = renderBootstrapArg(bootstrap);
    byMode.set(mode, arg);
  }
  return arg;
}

export function buildProxyContainer(config: InjectorConfig, options: PodOptions, native: boolean): Container {
  // Resources from the pod's annotations are a new object; the configuration's are shared.
  const resources = options.proxyResources === config.proxy.resources ? 'config' : JSON.stringify(options.proxyResources);
  const key = `proxy ${options.interceptionMode} ${options.proxyLogLevel} ${native} ${resources}`;
  return cachedContainer(config, key, () => proxyContainer(config, options, native));
}

function proxyContainer(config: InjectorConfig, options: PodOptions, native: boolean): Container {
  const { ports } = config.proxy;
  const fieldRef = (fieldPath: string): Record<string, unknown> => ({ fieldRef: { apiVersion: 'v1', fieldPath } });
  const probe = { httpGet: { path: '/healthz/ready', port: ports.health, scheme: 'HTTP' as const } };
  return {
    name: config.containerNames.proxy,
    image: config.proxy.image,
    ...pullPolicy(config),
    command: ['envoy'],
    args: [
      '--config-yaml',
      bootstrapArg(config, options),
      '--log-level',
      options.proxyLogLevel,
      '--concurrency',
      String(config.proxy.concurrency),
      '--disable-hot-restart',
      '--drain-time-s',
      '45',
    ],
    env: [
      { name: 'POD_NAME', valueFrom: fieldRef('metadata.name') },
      { name: 'POD_NAMESPACE', valueFrom: fieldRef('metadata.namespace') },
      { name: 'INSTANCE_IP', valueFrom: fieldRef('status.podIP') },
      ...cloneJson(config.proxy.env as EnvVar[]),
    ],
    ports: [{ containerPort: ports.prometheus, name: 'http-envoy-prom', protocol: 'TCP' }],
    resources: cloneJson(options.proxyResources),
    securityContext: proxySecurityContext(config, options),
    readinessProbe: { ...probe, periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 4 },
    startupProbe: { ...probe, periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 600 },
    ...(config.proxy.volumeMounts.length > 0 ? { volumeMounts: cloneJson(config.proxy.volumeMounts as never[]) } : {}),
    ...(native ? { restartPolicy: 'Always' as const } : {}),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}
