/**
 * outrigger-cni with other capture settings in the pod's annotation, through the real chain
 * (bridge + host-local, portmap): DNS capture in CNI mode captures all DNS (the plugin cannot
 * read the pod's resolv.conf), TPROXY inbound gets its policy routing (checked by CHECK, removed
 * by DEL), both for iptables and native nftables; the iptables backend is chosen per pod namespace
 * (legacy where legacy holds rules); native nftables comes from the pod's settings, or from the
 * network config where they do not say; and a runtime that passes annotations means no API call
 * even with a kubeconfig set.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeCaptureSettings, rawSettingsFromAnnotations } from '../../capture/pod-annotations.js';
import { addNetworkList, delNetworkList, execPlugin, pluginConfig } from '../helpers/cni-runtime.js';
import { type CniNode, createCniNode, defaultSettingsAnnotation, ownRules, requireCniPlugins, SettingsAnnotation } from '../helpers/cni-pod.js';
import { startKubeApi, stopAllKubeApis, writeKubeconfig } from '../helpers/kube-api.js';
import { destroyAllNamespaces, requireRealKernel } from '../helpers/netns.js';
import { hostPort, probe, startProbe, stopAllProbes } from '../helpers/probes.js';
import { type CaptureBackend, CaptureBackends } from '../helpers/capture-backends.js';
import { listRuleset } from '../helpers/nft.js';

const APP = { uid: 1000, gid: 1000 };
const PROXY = { uid: 1337, gid: 1337 };

beforeAll(() => {
  requireRealKernel(['nft']);
  requireCniPlugins();
});
afterEach(() => {
  stopAllProbes();
  stopAllKubeApis();
});
afterAll(() => destroyAllNamespaces());

/** The annotation the injector writes for a pod with these Istio annotations. */
function settingsFor(annotations: Record<string, string>, extra: Record<string, string> = {}): string {
  const { raw } = rawSettingsFromAnnotations(annotations);
  const withExtra = { ...raw, ...Object.fromEntries(Object.entries(extra).map(([k, text]) => [k, { text, source: 'test' }])) };
  return encodeCaptureSettings(withExtra);
}

async function withPod(settings: string, body: (cni: CniNode, result: Record<string, unknown>) => Promise<void>): Promise<void> {
  const cni = createCniNode();
  try {
    const call = cni.call({ annotations: { [SettingsAnnotation]: settings } });
    const added = await addNetworkList(cni.node, cni.list(), call);
    expect(added.outcomes.map((o) => [o.type, o.exitCode, o.json?.msg ?? null])).toEqual([['bridge', 0, null], ['portmap', 0, null], ['outrigger-cni', 0, null]]);
    await body(cni, added.result ?? {});
  } finally {
    cni.destroy();
  }
}

describe.each(CaptureBackends)('capture settings from the annotation ($name)', (backend: CaptureBackend) => {
  it('DNS capture in CNI mode captures DNS to any server over UDP and TCP, but not the proxy\'s own', async () => {
    await withPod(settingsFor({}, { redirectDns: 'true', ...backend.settings }), async (cni) => {
      await startProbe(cni.pod, { name: 'proxy-dns', udp: ['0.0.0.0:15053'], tcp: ['0.0.0.0:15053'], uid: 1337 });
      await startProbe(cni.node, { name: 'upstream-dns', udp: ['0.0.0.0:53'], tcp: ['0.0.0.0:53'] });
      // The node's address is in no resolv.conf the plugin could have read: all DNS is captured.
      expect(await probe(cni.pod, 'udp', cni.gatewayV4, 53, APP)).toMatchObject({ listener: 'proxy-dns' });
      expect(await probe(cni.pod, 'tcp', cni.gatewayV4, 53, APP)).toMatchObject({ listener: 'proxy-dns', original_dst: hostPort(cni.gatewayV4, 53) });
      expect(await probe(cni.pod, 'udp', cni.gatewayV4, 53, PROXY)).toMatchObject({ listener: 'upstream-dns' });
    });
  });

  it('TPROXY inbound: policy routing is added, CHECK verifies it, DEL removes it', async () => {
    const settings = settingsFor({ 'sidecar.istio.io/interceptionMode': 'TPROXY' }, backend.settings);
    await withPod(settings, async (cni, result) => {
      const rules = async () => (await cni.pod.run('ip', ['rule', 'show'])).stdout;
      expect(await rules()).toMatch(/fwmark 0x539 lookup 133/);
      expect((await listRuleset(cni.pod)).includes('chain istio-tproxy')).toBe(backend.name === 'nftables');
      const list = cni.list();
      const call = cni.call({ annotations: { [SettingsAnnotation]: settings } });
      const config = JSON.stringify(pluginConfig(list, list.plugins[2]!, call, result));
      expect((await execPlugin(cni.node, 'outrigger-cni', 'CHECK', config, call)).exitCode).toBe(0);

      expect((await cni.pod.run('ip', ['rule', 'del', 'fwmark', '1337', 'lookup', '133'])).exitCode).toBe(0);
      const check = await execPlugin(cni.node, 'outrigger-cni', 'CHECK', config, call);
      expect(check.json).toMatchObject({ code: 103, details: expect.stringContaining('policy-routing rule for mark 1337') });

      expect((await execPlugin(cni.node, 'outrigger-cni', 'ADD', config, call)).exitCode).toBe(0);
      expect(await rules()).toMatch(/fwmark 0x539 lookup 133/);
      const deleted = await delNetworkList(cni.node, list, call, result);
      expect(deleted.map((o) => o.exitCode)).toEqual([0, 0, 0]);
      expect(await rules()).not.toMatch(/fwmark/);
      expect((await cni.pod.run('ip', ['route', 'show', 'table', '133'])).stdout.trim()).toBe('');
      expect(await ownRules(cni.pod)).toBe('');
    });
  });
});

describe('the iptables backend of the pod namespace', () => {
  it('uses legacy where legacy already holds rules in the pod namespace (IPv4), nft elsewhere, and DEL cleans both', async () => {
    const cni = createCniNode();
    try {
      // Something in the pod namespace already uses the legacy backend for IPv4.
      expect((await cni.pod.run('iptables-legacy', ['-t', 'filter', '-A', 'INPUT', '-p', 'tcp', '--dport', '9', '-j', 'ACCEPT'])).exitCode).toBe(0);
      const list = cni.list();
      const added = await addNetworkList(cni.node, list, cni.call());
      expect(added.outcomes.map((o) => o.exitCode)).toEqual([0, 0, 0]);
      expect(await cni.pod.save(4, 'legacy')).toContain('ISTIO_OUTPUT');
      expect(await cni.pod.save(4, 'nft')).not.toContain('ISTIO_OUTPUT');
      expect(await cni.pod.save(6, 'nft')).toContain('ISTIO_OUTPUT');
      expect(await cni.pod.save(6, 'legacy')).not.toContain('ISTIO_OUTPUT');
      const check = await execPlugin(cni.node, 'outrigger-cni', 'CHECK', JSON.stringify(pluginConfig(list, list.plugins[2]!, cni.call(), added.result)), cni.call());
      expect([check.exitCode, check.stdout]).toEqual([0, '']);
      const deleted = await delNetworkList(cni.node, list, cni.call(), added.result);
      expect(deleted.map((o) => o.exitCode)).toEqual([0, 0, 0]);
      expect(await ownRules(cni.pod)).toBe('');
      // The rule that was there before is still there.
      expect(await cni.pod.save(4, 'legacy')).toContain('-A INPUT -p tcp -m tcp --dport 9 -j ACCEPT');
    } finally {
      cni.destroy();
    }
  });
});

describe('native nftables from the network config', () => {
  it("applies with nftables for a pod whose settings do not say, and with the pod's choice where they do", async () => {
    for (const [settings, expected] of [[defaultSettingsAnnotation({ nativeNftables: 'false' }), 'iptables'], [JSON.stringify({ inboundPorts: '*', outboundIpRangesInclude: '*' }), 'nftables']] as const) {
      const cni = createCniNode();
      try {
        const list = cni.list({ nativeNftables: true });
        const added = await addNetworkList(cni.node, list, cni.call({ annotations: { [SettingsAnnotation]: settings } }));
        expect(added.outcomes.map((o) => o.exitCode)).toEqual([0, 0, 0]);
        expect((await cni.pod.save(4)).includes('ISTIO_OUTPUT')).toBe(expected === 'iptables');
        expect((await listRuleset(cni.pod)).includes('table inet istio-proxy-nat')).toBe(expected === 'nftables');
        const deleted = await delNetworkList(cni.node, list, cni.call(), added.result);
        expect(deleted.map((o) => o.exitCode)).toEqual([0, 0, 0]);
        expect(await ownRules(cni.pod)).toBe('');
      } finally {
        cni.destroy();
      }
    }
  });
});

describe('runtime annotations and the kubeconfig', () => {
  it('makes no API call when the runtime passes the annotations, even with a kubeconfig configured', async () => {
    const cni = createCniNode();
    try {
      const token = 'never-used-token';
      const api = await startKubeApi(cni.node, cni.dataDir, { token, pods: {} });
      const kubeconfig = writeKubeconfig(cni.dataDir, `https://127.0.0.1:${api.port}`, api.caPem, token);
      const list = cni.list({ kubeconfig });
      const added = await addNetworkList(cni.node, list, cni.call({ annotations: { [SettingsAnnotation]: defaultSettingsAnnotation() } }));
      expect(added.outcomes.map((o) => o.exitCode)).toEqual([0, 0, 0]);
      expect(await ownRules(cni.pod)).toContain('ISTIO_OUTPUT');
      // A pod the runtime reports without our annotation is not looked up either.
      const otherCall = cni.call({ annotations: { app: 'web' } });
      const other = await execPlugin(cni.node, 'outrigger-cni', 'ADD', JSON.stringify(pluginConfig(list, list.plugins[2]!, otherCall, added.result)), otherCall);
      expect([other.exitCode, other.json]).toEqual([0, added.result]);
      expect(api.requests).toEqual([]);
    } finally {
      cni.destroy();
    }
  });
});
