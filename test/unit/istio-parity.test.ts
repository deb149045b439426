// Istio parity of the injection (issue 9, items 1, 2, 5 and 6), checked against what Istio's
// current injection template and inject.go do (read from Istio's source; no Istio runs here):
// - `-k` from istio.io/reroute-virtual-interfaces, else the deprecated kubevirtInterfaces;
// - interception mode NONE: the proxy is injected, nothing is captured (no proxy-init, no
//   proxy-validation, no CNI settings; the CNI plugin skips such a pod), the bootstrap has no
//   capture listeners, and the other traffic annotations are still checked;
// - `-d` = `15090,15021,` + Istio's excludeInboundPort(status port, excludes), where the pod's
//   excludeInboundPorts replaces the mesh-wide list and a status port of 0 adds none;
// - sidecar.istio.io/inject: only "true"/"false" decide, anything else falls back to the default
//   policy with a warning, which the webhook returns in the AdmissionResponse's `warnings`.
import fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { captureConfigFromAnnotations } from '../../capture/pod-annotations.js';
import { decidePod } from '../../cni-plugin/plugin/pod-capture.js';
import type { NetConf } from '../../cni-plugin/plugin/net-conf.js';
import { admitReview } from '../../injector/admission/admit-review.js';
import { parseAdmissionReview } from '../../injector/admission/parse-admission-review.js';
import { DefaultInjectorConfig, type InjectorConfig, parseInjectorConfig } from '../../injector/config/injector-config.js';
import { createInjectorMetrics } from '../../injector/metrics/injector-metrics.js';
import { decideInjection } from '../../injector/mutation/decide-injection.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { injectorApp } from '../../injector/server/injector-app.js';
import { admissionReview, deploymentPod } from '../helpers/admission-requests.js';
import { proxyBootstrap } from '../helpers/proxy-bootstrap-arg.js';

type Obj = Record<string, any>;

function pod(annotations: Record<string, string> = {}, labels: Record<string, string> = {}, spec: Obj = {}): Obj {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', annotations, labels }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }], ...spec } };
}

function injected(p: Obj, config: InjectorConfig = DefaultInjectorConfig): { pod: Obj; warnings: readonly string[] } {
  const review = reviewPod({ pod: p, namespace: 'shop', config });
  if (review.kind !== 'inject') throw new Error(`expected an injection, got ${JSON.stringify(review)}`);
  return { pod: review.pod as Obj, warnings: review.warnings };
}

/** proxy-init's args as the injected pod carries them, as flag -> value. */
function initFlags(p: Obj): Map<string, string> {
  const init = (p.spec.initContainers as Obj[]).find((c) => c.name === 'proxy-init');
  if (!init) throw new Error('no proxy-init');
  const args = init.args as string[];
  const flags = new Map<string, string>();
  for (let i = 1; i < args.length; i += 2) flags.set(args[i] as string, args[i + 1] as string);
  return flags;
}

const dFlag = (annotations: Record<string, string>, config: InjectorConfig = DefaultInjectorConfig): string | undefined => initFlags(injected(pod(annotations), config).pod).get('-d');
const kFlag = (annotations: Record<string, string>): string | undefined => initFlags(injected(pod(annotations)).pod).get('-k');

describe('item 1: istio.io/reroute-virtual-interfaces', () => {
  it('is read for -k, ahead of the deprecated kubevirtInterfaces, even when empty (as Istio\'s template)', () => {
    expect(kFlag({ 'istio.io/reroute-virtual-interfaces': 'k6t-eth0' })).toBe('k6t-eth0');
    expect(kFlag({ 'istio.io/reroute-virtual-interfaces': 'k6t-eth0', 'traffic.sidecar.istio.io/kubevirtInterfaces': 'net1' })).toBe('k6t-eth0');
    expect(kFlag({ 'istio.io/reroute-virtual-interfaces': '', 'traffic.sidecar.istio.io/kubevirtInterfaces': 'net1' })).toBe('');
    expect(kFlag({ 'traffic.sidecar.istio.io/kubevirtInterfaces': 'net1' })).toBe('net1');
    // The overridden one has no effect, so it is not checked either (Istio's template never reads it).
    expect(kFlag({ 'istio.io/reroute-virtual-interfaces': 'k6t-eth0', 'traffic.sidecar.istio.io/kubevirtInterfaces': 'not/an/interface' })).toBe('k6t-eth0');
    expect(kFlag({})).toBeUndefined();
    const { config } = captureConfigFromAnnotations({ 'istio.io/reroute-virtual-interfaces': 'k6t-eth0,tap+' });
    expect(config.kubeVirtInterfaces).toEqual(['k6t-eth0', 'tap+']);
  });

  it('is checked and named like the other traffic annotations', () => {
    const review = reviewPod({ pod: pod({ 'istio.io/reroute-virtual-interfaces': 'bad/name' }), namespace: 'shop', config: DefaultInjectorConfig });
    expect(review.kind).toBe('deny');
    if (review.kind === 'deny') expect(review.error.problems.map((p) => p.source)).toEqual(['annotation istio.io/reroute-virtual-interfaces']);
  });

  it('warns that kubevirtInterfaces is deprecated, or ignored when both are set', () => {
    expect(injected(pod({ 'traffic.sidecar.istio.io/kubevirtInterfaces': 'net1' })).warnings).toEqual([
      'traffic.sidecar.istio.io/kubevirtInterfaces is deprecated; use istio.io/reroute-virtual-interfaces',
    ]);
    expect(injected(pod({ 'traffic.sidecar.istio.io/kubevirtInterfaces': 'net1', 'istio.io/reroute-virtual-interfaces': 'k6t-eth0' })).warnings).toEqual([
      'traffic.sidecar.istio.io/kubevirtInterfaces ignored: istio.io/reroute-virtual-interfaces is set and wins',
    ]);
  });
});

describe('item 2: sidecar.istio.io/interceptionMode NONE', () => {
  const none = { 'sidecar.istio.io/interceptionMode': 'NONE' };

  it('injects the proxy without proxy-init, native and classic', () => {
    const native = injected(pod(none)).pod;
    expect(native.spec.initContainers.map((c: Obj) => c.name)).toEqual(['proxy']);
    const classic = injected(pod({ ...none, 'sidecar.istio.io/nativeSidecar': 'false' }, {}, { initContainers: [{ name: 'migrate', image: 'm:1' }] })).pod;
    expect(classic.spec.initContainers.map((c: Obj) => c.name)).toEqual(['migrate']);
    expect(classic.spec.containers.map((c: Obj) => c.name)).toEqual(['proxy', 'web']);
    const plain = injected(pod({ ...none, 'sidecar.istio.io/nativeSidecar': 'false' })).pod;
    expect(plain.spec.initContainers).toBeUndefined();
    expect(JSON.parse(plain.metadata.annotations['sidecar.istio.io/status'])).toMatchObject({ initContainers: null, containers: ['proxy'] });
  });

  it('in CNI mode adds no proxy-validation and no capture settings, so the CNI plugin leaves the pod alone', async () => {
    const cni = injected(pod({ ...none, 'outrigger.dev/cni-mode': 'true' })).pod;
    expect(cni.spec.initContainers.map((c: Obj) => c.name)).toEqual(['proxy']);
    expect(cni.metadata.annotations['outrigger.dev/capture-settings']).toBeUndefined();
    // The plugin's own decision, for this pod's annotations and for settings that say NONE anyway.
    const conf = (annotations: Record<string, string>) => ({ excludeNamespaces: [], podAnnotations: annotations, apiTimeoutSeconds: 1 }) as unknown as NetConf;
    const identity = { namespace: 'shop', name: 'web', uid: 'u' };
    const log = { info() {}, debug() {}, warn() {}, error() {} } as never;
    expect(await decidePod(conf(cni.metadata.annotations), identity, log)).toEqual({ kind: 'skip', reason: 'noAnnotation' });
    expect(await decidePod(conf({ 'outrigger.dev/capture-settings': '{"inboundInterceptionMode":"NONE"}' }), identity, log)).toEqual({ kind: 'skip', reason: 'noInterception' });
  });

  it('runs the proxy unprivileged with a bootstrap without capture listeners (nothing is redirected to them)', () => {
    const proxy = (injected(pod(none)).pod.spec.initContainers as Obj[]).find((c) => c.name === 'proxy') as Obj;
    expect(proxy.securityContext).toMatchObject({ runAsUser: 1337, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    const bootstrap = proxyBootstrap(proxy, { 'metadata.name': 'web', 'metadata.namespace': 'shop' }) as Obj;
    expect(bootstrap.static_resources.listeners.map((l: Obj) => l.name)).toEqual(['readiness', 'prometheus']);
  });

  it('still checks the other traffic annotations (Istio validates them whatever the mode), and warns they do nothing', () => {
    const review = reviewPod({ pod: pod({ ...none, 'traffic.sidecar.istio.io/excludeInboundPorts': 'http' }), namespace: 'shop', config: DefaultInjectorConfig });
    expect(review.kind).toBe('deny');
    if (review.kind === 'deny') expect(review.error.problems.map((p) => p.source)).toEqual(['annotation traffic.sidecar.istio.io/excludeInboundPorts']);
    expect(injected(pod({ ...none, 'traffic.sidecar.istio.io/excludeInboundPorts': '9000' })).warnings).toEqual([
      'interceptionMode NONE captures nothing; ignored: traffic.sidecar.istio.io/excludeInboundPorts',
    ]);
  });

  it('is accepted mesh-wide in the configuration, and a pod can still ask for REDIRECT; an unknown mode names NONE', () => {
    const config = parseInjectorConfig('capture:\n  inboundInterceptionMode: NONE\n', 'c');
    expect(injected(pod(), config).pod.spec.initContainers.map((c: Obj) => c.name)).toEqual(['proxy']);
    expect(initFlags(injected(pod({ 'sidecar.istio.io/interceptionMode': 'REDIRECT' }), config).pod).get('-m')).toBe('REDIRECT');
    const review = reviewPod({ pod: pod({ 'sidecar.istio.io/interceptionMode': 'NOPE' }), namespace: 'shop', config: DefaultInjectorConfig });
    expect(review.kind === 'deny' && review.error.message).toContain('must be one of REDIRECT, TPROXY, NONE');
  });
});

describe('item 5: inbound exclusions (-d) with Istio\'s arithmetic', () => {
  const withConfig = (text: string) => parseInjectorConfig(text, 'c');
  it.each([
    ['defaults', {}, '', '15090,15021,15020'],
    ['status port annotation', { 'status.sidecar.istio.io/port': '15030' }, '', '15090,15021,15030'],
    ['mesh-wide custom status port: 15020 is not kept', {}, 'proxy:\n  ports:\n    status: 15030\n', '15090,15021,15030'],
    ['mesh-wide status port 0: none excluded', {}, 'proxy:\n  ports:\n    status: 0\n', '15090,15021'],
    ['status port annotation 0', { 'status.sidecar.istio.io/port': '0' }, '', '15090,15021'],
    ['pod excludes, status port appended', { 'traffic.sidecar.istio.io/excludeInboundPorts': '9000' }, '', '15090,15021,9000,15020'],
    ['pod excludes replace the mesh-wide list', { 'traffic.sidecar.istio.io/excludeInboundPorts': '9000' }, 'capture:\n  inboundPortsExclude: "9100"\n', '15090,15021,9000,15020'],
    ['an empty pod list replaces it too', { 'traffic.sidecar.istio.io/excludeInboundPorts': '' }, 'capture:\n  inboundPortsExclude: "9100"\n', '15090,15021,15020'],
    ['mesh-wide list without a pod list', {}, 'capture:\n  inboundPortsExclude: "9100"\n', '15090,15021,9100,15020'],
    ['status port already listed: the list as written', { 'traffic.sidecar.istio.io/excludeInboundPorts': '15020,9000' }, '', '15090,15021,15020,9000'],
    ['status 0 and a mesh-wide list', {}, 'proxy:\n  ports:\n    status: 0\ncapture:\n  inboundPortsExclude: "9100"\n', '15090,15021,9100'],
    // Outrigger's difference: its proxy's ports are configurable; they take the place of Istio's fixed 15090,15021.
    ['custom proxy ports lead the list', {}, 'proxy:\n  ports:\n    prometheus: 16090\n    health: 16021\n', '16090,16021,15020'],
  ] as const)('%s', (_name, annotations, config, expected) => {
    expect(dFlag(annotations, config === '' ? DefaultInjectorConfig : withConfig(config))).toBe(expected);
  });

  it('captures an app port 15020 when the status port is elsewhere', () => {
    const review = reviewPod({ pod: pod(), namespace: 'shop', config: withConfig('proxy:\n  ports:\n    status: 15030\n') });
    const d = review.kind === 'inject' ? initFlags(review.pod as Obj).get('-d') : undefined;
    expect(d?.split(',')).not.toContain('15020');
  });

  it('refuses an empty or bad status port annotation as Istio does, and a bad configured one', () => {
    for (const value of ['', 'abc', '70000']) {
      const review = reviewPod({ pod: pod({ 'status.sidecar.istio.io/port': value }), namespace: 'shop', config: DefaultInjectorConfig });
      expect(review.kind === 'deny' && review.error.problems.map((p) => p.source)).toEqual(['annotation status.sidecar.istio.io/port']);
    }
    expect(() => withConfig('proxy:\n  ports:\n    status: -1\n')).toThrow(/\.proxy\.ports\.status/);
    expect(() => withConfig('proxy:\n  ports:\n    health: 0\n')).toThrow(/\.proxy\.ports\.health/);
  });
});

describe('item 6: sidecar.istio.io/inject values and warnings', () => {
  const L = 'sidecar.istio.io/inject';
  const enabled = DefaultInjectorConfig;
  const disabled = parseInjectorConfig('defaultPolicy: disabled\n', 'c');
  const decide = (labels: Record<string, string>, annotations: Record<string, string>, config: InjectorConfig) => {
    const { inject, warnings } = decideInjection(pod(annotations, labels) as never, 'shop', config);
    return { inject, warnings: warnings?.length ?? 0 };
  };

  it.each([
    ['label true', { [L]: 'true' }, {}, disabled, { inject: true, warnings: 0 }],
    ['label false', { [L]: 'false' }, {}, enabled, { inject: false, warnings: 0 }],
    ['label yes falls back to the default (disabled)', { [L]: 'yes' }, {}, disabled, { inject: false, warnings: 1 }],
    ['label on falls back to the default (enabled)', { [L]: 'on' }, {}, enabled, { inject: true, warnings: 1 }],
    ['label True (capital) is not true', { [L]: 'True' }, {}, disabled, { inject: false, warnings: 1 }],
    ['a typo no longer skips', { [L]: 'flase' }, {}, enabled, { inject: true, warnings: 1 }],
    ['annotation y falls back', {}, { [L]: 'y' }, disabled, { inject: false, warnings: 1 }],
    ['annotation off falls back', {}, { [L]: 'off' }, enabled, { inject: true, warnings: 1 }],
    ['the label wins over a differing annotation (named in a warning)', { [L]: 'false' }, { [L]: 'true' }, enabled, { inject: false, warnings: 1 }],
    ['an empty value is unset: no warning', { [L]: '' }, {}, enabled, { inject: true, warnings: 0 }],
  ] as const)('%s', (_name, labels, annotations, config, expected) => {
    expect(decide(labels, annotations, config)).toEqual(expected);
  });

  it('returns the warnings in the AdmissionResponse (skip and inject), short and printable', async () => {
    const review = (labels: Record<string, string>, annotations: Record<string, string>, config: InjectorConfig) =>
      admitReview(parseAdmissionReview(admissionReview(deploymentPod({ labels, annotations }))), config).review.response;
    const skipped = review({ [L]: 'yes' }, {}, disabled);
    expect(skipped.allowed).toBe(true);
    expect(skipped.patch).toBeUndefined();
    expect(skipped.warnings).toEqual(['label sidecar.istio.io/inject="yes" ignored (only "true" or "false"); the default policy decides']);
    const injectedResponse = review({}, { [L]: 'enabled', 'sidecar.istio.io/proxyImage': 'istio/proxyv2:1.28', 'proxy.istio.io/config': '{}' }, enabled);
    expect(injectedResponse.patchType).toBe('JSONPatch');
    expect(injectedResponse.warnings).toEqual([
      'annotation sidecar.istio.io/inject="enabled" ignored (only "true" or "false"); the default policy decides',
      'not supported by outrigger, ignored: proxy.istio.io/config, sidecar.istio.io/proxyImage',
    ]);
    const plain = review({}, {}, enabled);
    expect(plain.warnings).toBeUndefined();
    const hostile = review({ [L]: `x${'\u0007'.repeat(3)}${'y'.repeat(500)}` }, {}, enabled);
    for (const w of hostile.warnings ?? []) {
      expect(w.length).toBeLessThanOrEqual(120);
      expect(w).toMatch(/^[\x20-\x7e]+$/);
    }
    expect(hostile.warnings).toHaveLength(1);
  });

  it('sends them over the /inject route as JSON the API server reads', async () => {
    const metrics = createInjectorMetrics({ defaultMetrics: false });
    const instance = fastify({ logger: false });
    await instance.register(injectorApp, { admit: (r) => admitReview(r, enabled), metrics, isReady: () => true });
    const res = await instance.inject({ method: 'POST', url: '/inject', payload: admissionReview(deploymentPod({ labels: { [L]: 'on' } }), { uid: 'w-1' }) });
    expect(res.statusCode).toBe(200);
    expect(res.json().response).toMatchObject({ uid: 'w-1', allowed: true, patchType: 'JSONPatch', warnings: ['label sidecar.istio.io/inject="on" ignored (only "true" or "false"); the default policy decides'] });
    await instance.close();
  });

  it('warns when an explicit "true" cannot be honoured', () => {
    const review = reviewPod({ pod: pod({}, { [L]: 'true' }, { hostNetwork: true }), namespace: 'shop', config: enabled });
    expect(review).toEqual({ kind: 'skip', reason: 'hostNetwork', warnings: ['label sidecar.istio.io/inject="true" not honoured: the pod uses the host network'] });
  });
});
