// The seams between outrigger's parts, checked with each side's real code (no copies of either):
// - a pod the injector prepares for CNI mode is captured by the CNI plugin with exactly the capture
//   configuration the injector validated, and its proxy-validation command parses with `outrigger
//   init`'s own flag parser;
// - the entry the CNI installer puts into each real-shaped node conflist is accepted by the
//   plugin's network-config parser as libcni would hand it over, with the installer's settings.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { captureConfigFromAnnotations, CaptureSettingsAnnotation, InjectionBaseline } from '../../capture/pod-annotations.js';
import { insertPlugin } from '../../cni-plugin/install/conflist-edit.js';
import { parseInstallFlags } from '../../cni-plugin/install/install-options.js';
import { pluginEntry } from '../../cni-plugin/install/plugin-entry.js';
import { parseNetConf } from '../../cni-plugin/plugin/net-conf.js';
import { configFromSettingsAnnotation } from '../../cni-plugin/plugin/pod-capture.js';
import { DefaultInjectorConfig } from '../../injector/config/injector-config.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';

const trafficAnnotations: Record<string, string>[] = [
  {},
  { 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '198.18.0.0/15', 'traffic.sidecar.istio.io/excludeInboundPorts': '9000' },
  { 'sidecar.istio.io/interceptionMode': 'TPROXY', 'traffic.sidecar.istio.io/includeInboundPorts': '8080,9090' },
  { 'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/8,2001:db8::/32', 'traffic.sidecar.istio.io/excludeInterfaces': 'net1' },
];

function cniModePod(annotations: Record<string, string>): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'app', namespace: 'shop', annotations: { ...annotations, 'outrigger.dev/cni-mode': 'true' } },
    spec: { containers: [{ name: 'app', image: 'example/app:1', ports: [{ containerPort: 8080 }] }] },
  };
}

describe('injector → CNI plugin', () => {
  it.each(trafficAnnotations.map((a, i) => [i, a] as const))('case %i: the plugin captures with the configuration the injector validated', (_, annotations) => {
    const review = reviewPod({ pod: cniModePod(annotations), namespace: 'shop', config: DefaultInjectorConfig });
    expect(review.kind).toBe('inject');
    if (review.kind !== 'inject') return;
    const settings = review.pod.metadata?.annotations?.[CaptureSettingsAnnotation];
    expect(settings, 'the injected pod carries the CNI settings annotation').toBeTypeOf('string');
    const fromPlugin = configFromSettingsAnnotation(settings!);
    const baseline = { ...InjectionBaseline, ...DefaultInjectorConfig.captureBaseline };
    const { config: fromInjector } = captureConfigFromAnnotations(annotations, baseline);
    expect(fromPlugin).toEqual(fromInjector);

    // In CNI mode there is no proxy-init; proxy-validation's command is outrigger init's own.
    const initContainers = review.pod.spec?.initContainers ?? [];
    expect(initContainers.map((c) => c.name)).not.toContain('proxy-init');
    const validation = initContainers.find((c) => c.name === 'proxy-validation');
    expect(validation).toBeDefined();
    const argv = [...(validation?.command ?? []), ...(validation?.args ?? [])];
    const initAt = argv.indexOf('init');
    expect(initAt).toBeGreaterThanOrEqual(0);
    const env = Object.fromEntries((validation?.env ?? []).map((e) => [e.name, e.value ?? '']));
    const parsed = parseInitFlags(argv.slice(initAt + 1), env);
    expect(parsed.kind).toBe('run');
    if (parsed.kind !== 'run') return;
    expect(parsed.options.runValidation).toBe(true);
    expect(parsed.options.skipRuleApply).toBe(true);
    expect(parsed.capture.proxyPort).toBe(fromInjector.proxyPort);
    expect(parsed.capture.inboundCapturePort).toBe(fromInjector.inboundCapturePort);
  });
});

describe('CNI installer → CNI plugin', () => {
  const fixtures = ['05-cilium.conf', '05-cilium.conflist', '10-bridge.conf', '10-calico.conflist', '10-flannel.conflist'];
  it.each(fixtures)('%s: the entry the installer adds parses as the plugin\'s network config', (name) => {
    const parsedFlags = parseInstallFlags(['--exclude-namespaces', 'kube-system,outrigger', '--plugin-log-level', 'debug', '--node-name', 'node-1'], { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' });
    expect(parsedFlags.kind).toBe('options');
    if (parsedFlags.kind !== 'options') return;
    const options = parsedFlags.options;
    const text = readFileSync(new URL(`../fixtures/cni-configs/${name}`, import.meta.url), 'utf8');
    const edit = insertPlugin({ name, text }, pluginEntry(options));
    expect(edit.kind).toBe('write');
    if (edit.kind !== 'write') return;
    const conflist = JSON.parse(edit.write.text) as { name: string; cniVersion: string; plugins: Record<string, unknown>[] };
    const ours = conflist.plugins.at(-1)!;
    // libcni hands each plugin its entry plus the list's name and version, the previous result and
    // the runtime config for the capabilities it declares.
    const conf = parseNetConf({
      ...ours,
      name: conflist.name,
      cniVersion: conflist.cniVersion,
      prevResult: { cniVersion: conflist.cniVersion, interfaces: [], ips: [] },
      runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { [CaptureSettingsAnnotation]: '{}' } },
    });
    expect(conf.excludeNamespaces).toEqual(['kube-system', 'outrigger']);
    expect(conf.kubeconfig).toBe(`${options.hostCniConfDir.replace(/\/+$/, '')}/${options.kubeconfigName}`);
    expect(conf.logLevel).toBe('debug');
    expect(conf.podAnnotations).toEqual({ [CaptureSettingsAnnotation]: '{}' });
    expect((ours.capabilities as Record<string, boolean>)['io.kubernetes.cri.pod-annotations']).toBe(true);
  });
});
