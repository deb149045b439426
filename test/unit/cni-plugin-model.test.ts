// The plugin's pure parts: result conversion between spec versions, prevResult validation, the
// network config adapter (defaults, every bad field named, runtime annotations), the capture
// settings annotation in CNI mode (DNS capture widened to all DNS) and host facts from a result.
import { describe, expect, it } from 'vitest';
import { isOutriggerError } from '../../common/errors.js';
import { convertResult, readResult } from '../../cni-plugin/skel/cni-result.js';
import { parseNetConf } from '../../cni-plugin/plugin/net-conf.js';
import { configFromSettingsAnnotation } from '../../cni-plugin/plugin/pod-capture.js';
import { hostFactsFromResult } from '../../cni-plugin/plugin/host-facts-from-result.js';
import { podIdentity } from '../../cni-plugin/plugin/pod-identity.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (isOutriggerError(error)) return error.problems.map((p) => p.source);
    throw error;
  }
  throw new Error('expected an error');
}

const result040 = {
  cniVersion: '0.4.0',
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/p' }],
  ips: [
    { version: '4', address: '198.18.1.2/24', gateway: '198.18.1.1', interface: 0 },
    { version: '6', address: '2001:db8:1::2/64', gateway: '2001:db8:1::1', interface: 0 },
  ],
  routes: [{ dst: '0.0.0.0/0' }],
  dns: {},
};

describe('CNI results', () => {
  it('drops ips[].version for 1.0.0 and later, keeping every other field', () => {
    const converted = convertResult(result040, '1.1.0');
    expect(converted).toEqual({ ...result040, cniVersion: '1.1.0', ips: result040.ips.map(({ version: _v, ...rest }) => rest) });
  });

  it('adds ips[].version from the address family for versions before 1.0.0', () => {
    const v1 = convertResult(result040, '1.0.0');
    expect(convertResult(v1, '0.3.1')).toEqual({ ...result040, cniVersion: '0.3.1' });
  });

  it('names each malformed address of a prevResult', () => {
    const read = readResult({ ips: [{ address: '198.18.1.2/24' }, { address: 'nope' }, {}] });
    expect(read.ok ? [] : read.problems.map((p) => p.source)).toEqual(['prevResult.ips[1].address', 'prevResult.ips[2].address']);
    expect(readResult('x')).toMatchObject({ ok: false });
    expect(readResult(result040)).toEqual({ ok: true, addresses: [{ family: 4, address: '198.18.1.2' }, { family: 6, address: '2001:db8:1::2' }] });
  });

  it('plans IPv6 only for a non-link-local IPv6 address', () => {
    expect(hostFactsFromResult([{ family: 4, address: '198.18.1.2' }]).ipv6).toBe(false);
    expect(hostFactsFromResult([{ family: 6, address: 'fe80::1' }]).ipv6).toBe(false);
    expect(hostFactsFromResult([{ family: 6, address: '2001:db8::2' }])).toEqual({ ipv6: true, dnsServersV4: [], dnsServersV6: [] });
  });
});

describe('network config', () => {
  const base = { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'outrigger-cni' };

  it('fills defaults and reads the runtime annotations', () => {
    const conf = parseNetConf({ ...base, runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { a: 'b' } }, capabilities: { x: true } });
    expect(conf).toMatchObject({ excludeNamespaces: ['kube-system'], kubeconfig: null, apiTimeoutSeconds: 10, iptablesBackend: 'auto', nativeNftables: false, logLevel: 'info', logFile: null, podAnnotations: { a: 'b' } });
    expect(parseNetConf({ ...base, nativeNftables: true }).nativeNftables).toBe(true);
    expect(parseNetConf(base).podAnnotations).toBeNull();
  });

  it('names every bad field at once', () => {
    expect(
      problemsOf(() =>
        parseNetConf({
          cniVersion: '1.0.0',
          name: '',
          type: 'istio-cni',
          excludeNamespaces: ['Bad_NS'],
          kubeconfig: 'relative/path',
          apiTimeoutSeconds: 0,
          iptablesBackend: 'ebpf',
          nativeNftables: 'yes',
          logLevel: 'loud',
          logFile: 3,
          runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { ok: 'x', bad: 1 } },
        }),
      ),
    ).toEqual(['name', 'type', 'excludeNamespaces', 'kubeconfig', 'apiTimeoutSeconds', 'iptablesBackend', 'nativeNftables', 'logLevel', 'logFile', 'runtimeConfig.io.kubernetes.cri.pod-annotations.bad']);
  });

  it('reads the pod from CNI_ARGS', () => {
    expect(podIdentity(new Map([['K8S_POD_NAMESPACE', 'shop'], ['K8S_POD_NAME', 'web'], ['K8S_POD_UID', 'u1']]))).toEqual({ namespace: 'shop', name: 'web', uid: 'u1' });
    expect(podIdentity(new Map([['K8S_POD_NAME', 'web']]))).toBeNull();
  });
});

describe('capture settings in CNI mode', () => {
  it('captures all DNS when DNS capture is asked for (the plugin cannot read resolv.conf)', () => {
    expect(configFromSettingsAnnotation('{"redirectDns":"true"}')).toMatchObject({ redirectDns: true, captureAllDns: true });
    expect(configFromSettingsAnnotation('{"redirectDns":"false"}')).toMatchObject({ redirectDns: false, captureAllDns: false });
  });

  it("chooses native nftables from the pod's settings, and from the network config only where they do not say", () => {
    expect(configFromSettingsAnnotation('{"nativeNftables":"true"}').nativeNftables).toBe(true);
    expect(configFromSettingsAnnotation('{"nativeNftables":"false"}', true).nativeNftables).toBe(false);
    expect(configFromSettingsAnnotation('{}', true).nativeNftables).toBe(true);
    expect(configFromSettingsAnnotation('{}').nativeNftables).toBe(false);
  });

  it('names each bad setting with the annotation as its source', () => {
    expect(problemsOf(() => configFromSettingsAnnotation('{"proxyPort":"0","bogus":"1"}'))).toEqual(['annotation outrigger.dev/capture-settings .bogus']);
    expect(problemsOf(() => configFromSettingsAnnotation('{"proxyPort":"x"}'))).toEqual(['annotation outrigger.dev/capture-settings .proxyPort']);
  });
});
