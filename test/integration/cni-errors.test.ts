/**
 * outrigger-cni's refusals and its API fallback, on a real pod namespace set up by Debian's
 * bridge + host-local: each bad input gets the spec's error code on stdout (exit 1) and leaves
 * no rule behind; pods that are not ours pass through untouched; without runtime annotations the
 * pod is read from a Kubernetes API stand-in (HTTPS, bearer token from a file), and an
 * unreachable API server ends in code 11 within the configured deadline.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addNetworkList, type Conflist, execPlugin, pluginConfig, type RuntimeCall } from '../helpers/cni-runtime.js';
import { type CniNode, createCniNode, defaultSettingsAnnotation, ownRules, requireCniPlugins, SettingsAnnotation } from '../helpers/cni-pod.js';
import { startKubeApi, stopAllKubeApis, writeKubeconfig } from '../helpers/kube-api.js';
import { destroyAllNamespaces, requireRealKernel } from '../helpers/netns.js';
import { probe, startProbe, stopAllProbes } from '../helpers/probes.js';

/** The node's nft, hidden (a private mount namespace) to play a node without nftables. */
const nftPath = '/usr/sbin/nft';

let cni: CniNode;
let prevResult: Record<string, unknown>;

beforeAll(async () => {
  requireRealKernel(['nft', 'unshare']);
  requireCniPlugins();
  cni = createCniNode();
  // The network plugin part of the chain (bridge + host-local, portmap) gives a real prevResult.
  const full = cni.list();
  const networkOnly: Conflist = { ...full, plugins: full.plugins.slice(0, 2) };
  const added = await addNetworkList(cni.node, networkOnly, cni.call());
  expect(added.outcomes.map((o) => o.exitCode)).toEqual([0, 0]);
  prevResult = added.result ?? {};
});
afterEach(() => {
  stopAllProbes();
  stopAllKubeApis();
});
afterAll(() => {
  cni?.destroy();
  destroyAllNamespaces();
});

type Overrides = Readonly<Record<string, string | undefined>>;

/** outrigger-cni alone, as the last plugin of the list, with this prevResult. */
async function outriggerCni(command: 'ADD' | 'CHECK' | 'DEL' | 'STATUS' | 'GC', options: { conf?: Record<string, unknown>; call?: RuntimeCall; prev?: unknown; version?: string; env?: Overrides; hide?: string[] } = {}) {
  const list = cni.list(options.conf ?? {}, options.version ?? '1.0.0');
  const call = options.call ?? cni.call();
  const config = pluginConfig(list, list.plugins[2]!, call, options.prev === undefined ? prevResult : options.prev);
  return execPlugin(cni.node, 'outrigger-cni', command, JSON.stringify(config), call, options.env ?? {}, { hide: options.hide ?? [] });
}

describe('errors: the spec code on stdout, exit 1, nothing applied', () => {
  afterEach(async () => expect(await ownRules(cni.pod)).toBe(''));

  it('ADD without prevResult is code 7 naming prevResult', async () => {
    const out = await outriggerCni('ADD', { prev: null });
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ cniVersion: '1.0.0', code: 7, msg: expect.stringContaining('prevResult'), details: expect.stringContaining('prevResult: required') });
  });

  it('a malformed prevResult is code 7 naming the field', async () => {
    const out = await outriggerCni('ADD', { prev: { cniVersion: '1.0.0', ips: [{ address: '198.18.0.300/24' }] } });
    expect(out.json).toMatchObject({ code: 7, details: expect.stringContaining('prevResult.ips[0].address') });
  });

  it('malformed JSON on stdin is code 6', async () => {
    const out = await execPlugin(cni.node, 'outrigger-cni', 'ADD', '{"cniVersion": "1.0.0", "name": ', cni.call());
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ code: 6, msg: expect.stringContaining('not valid JSON') });
  });

  it('an unsupported cniVersion is code 1 listing the supported ones; CHECK before 0.4.0 and STATUS before 1.1.0 too', async () => {
    for (const version of ['0.2.0', '2.0.0']) {
      const out = await outriggerCni('ADD', { version });
      expect(out.exitCode).toBe(1);
      expect(out.json).toMatchObject({ code: 1, msg: expect.stringContaining(version), details: expect.stringContaining('0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0') });
    }
    expect((await outriggerCni('CHECK', { version: '0.3.1', prev: { ...prevResult, cniVersion: '0.3.1' } })).json).toMatchObject({ code: 1, msg: expect.stringContaining('CHECK') });
    expect((await outriggerCni('STATUS', { version: '1.0.0' })).json).toMatchObject({ code: 1, msg: expect.stringContaining('STATUS') });
  });

  it('a missing network namespace is code 3; no CNI_NETNS at all is code 4', async () => {
    const missing = await outriggerCni('ADD', { call: cni.call({ netns: `/var/run/netns/or-missing-${randomBytes(4).toString('hex')}` }) });
    expect(missing.json).toMatchObject({ code: 3, msg: expect.stringContaining('does not exist') });
    const unset = await outriggerCni('ADD', { env: { CNI_NETNS: undefined } });
    expect(unset.json).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_NETNS') });
  });

  it('bad capture settings in the annotation are code 7 naming every bad setting', async () => {
    const annotations = { [SettingsAnnotation]: JSON.stringify({ proxyPort: 'abc', inboundPorts: '*', outboundIpRangesInclude: '10.0.0.0/33' }) };
    const out = await outriggerCni('ADD', { call: cni.call({ annotations }) });
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ code: 7 });
    const details = String(out.json?.details);
    expect(details).toContain(`annotation ${SettingsAnnotation} .proxyPort "abc"`);
    expect(details).toContain(`annotation ${SettingsAnnotation} .outboundIpRangesInclude "10.0.0.0/33"`);
    const notJson = await outriggerCni('ADD', { call: cni.call({ annotations: { [SettingsAnnotation]: '{proxyPort' } }) });
    expect(notJson.json).toMatchObject({ code: 7, details: expect.stringContaining('not JSON') });
  });

  it('a failing IPv6 restore (fault injected) is code 100 and the IPv4 rules are rolled back', async () => {
    // A node whose ip6tables-nft-restore refuses to apply (its --noflush call fails; everything
    // else passes through to the real binary). IPv4 applies concurrently and must be taken back.
    // Both restore binaries are wrapped to record their calls: the IPv4 one must see the apply
    // (--noflush) and then the put-back of the saved tables (no --noflush).
    const fakeBin = join(cni.dataDir, 'fault-bin');
    const calls = join(cni.dataDir, 'restore-calls.log');
    mkdirSync(fakeBin, { recursive: true });
    writeFileSync(calls, '');
    writeFileSync(
      join(fakeBin, 'ip6tables-nft-restore'),
      `#!/bin/sh\necho "6 $*" >> ${calls}\ncase " $* " in *" --noflush "*) cat >/dev/null; echo "ip6tables-restore: fault injected" >&2; exit 1;; esac\nexec /usr/sbin/ip6tables-nft-restore "$@"\n`,
      { mode: 0o755 },
    );
    writeFileSync(join(fakeBin, 'iptables-nft-restore'), `#!/bin/sh\necho "4 $*" >> ${calls}\nexec /usr/sbin/iptables-nft-restore "$@"\n`, { mode: 0o755 });
    const out = await outriggerCni('ADD', { env: { PATH: `${fakeBin}:/usr/sbin:/usr/bin:/sbin:/bin` } });
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ code: 100, msg: expect.stringMatching(/IPv6.*fault injected/) });
    // IPv4 really was applied, then put back (afterEach: no rule of ours is left).
    const v4 = readFileSync(calls, 'utf8').split('\n').filter((l) => l.startsWith('4 '));
    expect(v4[0]).toContain('--noflush');
    expect(v4.at(-1)).not.toContain('--noflush');
    expect(v4.length).toBeGreaterThanOrEqual(2);
  });

  it('a node without nft: ADD of a pod that asks for native nftables is code 102 naming nft, nothing applied', async () => {
    const call = cni.call({ annotations: { [SettingsAnnotation]: defaultSettingsAnnotation({ nativeNftables: 'true' }) } });
    const out = await outriggerCni('ADD', { call, hide: [nftPath] });
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ code: 102, msg: expect.stringContaining('nft was not found') });
    // The same pod on a node with nft is captured (afterEach checks the ADD above left nothing).
    expect((await outriggerCni('ADD', { call })).exitCode).toBe(0);
    expect(await ownRules(cni.pod)).toContain('istio-proxy-nat');
    expect((await outriggerCni('DEL', { call })).exitCode).toBe(0);
  });

  it('a bad plugin config field is code 7 naming each field', async () => {
    const out = await outriggerCni('ADD', { conf: { excludeNamespaces: 'kube-system', iptablesBackend: 'ebpf', logLevel: 'loud' } });
    expect(out.json).toMatchObject({ code: 7 });
    for (const field of ['excludeNamespaces', 'iptablesBackend', 'logLevel']) expect(String(out.json?.details)).toContain(field);
  });
});

describe('pods that are not ours pass through untouched', () => {
  afterEach(async () => expect(await ownRules(cni.pod)).toBe(''));

  it('a pod without the capture-settings annotation', async () => {
    const out = await outriggerCni('ADD', { call: cni.call({ annotations: { 'sidecar.istio.io/inject': 'false' } }) });
    expect([out.exitCode, out.json]).toEqual([0, prevResult]);
  });

  it('a pod in an excluded namespace, even with the annotation', async () => {
    const call = cni.call();
    const out = await outriggerCni('ADD', { call: { ...call, args: call.args.replace('K8S_POD_NAMESPACE=shop', 'K8S_POD_NAMESPACE=kube-system') } });
    expect([out.exitCode, out.json]).toEqual([0, prevResult]);
  });

  it('an invocation that names no pod', async () => {
    const out = await outriggerCni('ADD', { call: cni.call({ args: '' }) });
    expect([out.exitCode, out.json]).toEqual([0, prevResult]);
  });
});

describe('the API fallback (runtime passed no annotations)', () => {
  const token = `or-test-token-${randomBytes(8).toString('hex')}`;
  const podKey = 'shop/web-1';

  it('gets the pod from the API server with the bearer token, applies its settings, and CHECK/DEL work', async () => {
    const api = await startKubeApi(cni.node, cni.dataDir, {
      token,
      pods: { [podKey]: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'shop', uid: cni.podUid, annotations: { [SettingsAnnotation]: defaultSettingsAnnotation() } } } },
    });
    const kubeconfig = writeKubeconfig(cni.dataDir, `https://127.0.0.1:${api.port}`, api.caPem, token);
    const call = cni.call({ annotations: null });
    const out = await outriggerCni('ADD', { conf: { kubeconfig }, call });
    expect(out.stdout).not.toContain('"code"');
    expect([out.exitCode, out.json]).toEqual([0, prevResult]);
    expect(api.requests).toEqual([{ method: 'GET', path: '/api/v1/namespaces/shop/pods/web-1', tokenOk: true, accept: 'application/json' }]);

    await startProbe(cni.pod, { name: 'proxy-outbound', tcp: ['0.0.0.0:15001'], uid: 1337 });
    await startProbe(cni.node, { name: 'node-app', tcp: ['0.0.0.0:8080'] });
    expect(await probe(cni.pod, 'tcp', cni.gatewayV4, 8080, { uid: 1000, gid: 1000 })).toMatchObject({ listener: 'proxy-outbound' });

    expect((await outriggerCni('CHECK', { conf: { kubeconfig }, call })).exitCode).toBe(0);
    expect((await outriggerCni('DEL', { conf: { kubeconfig }, call })).exitCode).toBe(0);
    expect(await ownRules(cni.pod)).toBe('');
    // DEL never asks the API server: the pod may already be gone.
    expect(api.requests.length).toBe(2);
    // The plugin logged its work to logFile, and never the token.
    const log = readFileSync(join(cni.dataDir, 'outrigger-cni.log'), 'utf8');
    expect(log).toContain('capture applied');
    expect(log).not.toContain(token);
  });

  it('retries a pod with another UID (an older pod of the same name) and then gives up with code 11', async () => {
    const api = await startKubeApi(cni.node, cni.dataDir, {
      token,
      pods: { [podKey]: { metadata: { name: 'web-1', namespace: 'shop', uid: 'an-older-pod', annotations: { [SettingsAnnotation]: defaultSettingsAnnotation() } } } },
    });
    const kubeconfig = writeKubeconfig(cni.dataDir, `https://127.0.0.1:${api.port}`, api.caPem, token);
    const out = await outriggerCni('ADD', { conf: { kubeconfig, apiTimeoutSeconds: 1 }, call: cni.call({ annotations: null }) });
    expect(out.json).toMatchObject({ code: 11, msg: expect.stringContaining('an-older-pod') });
    expect(api.requests.length).toBeGreaterThan(1);
    expect(api.requests.length).toBeLessThan(12);
    expect(await ownRules(cni.pod)).toBe('');
  });

  it('an unreachable API server is code 11 after the deadline, with nothing applied', async () => {
    // Nothing listens on this port in the node namespace.
    const kubeconfig = writeKubeconfig(cni.dataDir, 'https://127.0.0.1:9', 'unused', token);
    const out = await outriggerCni('ADD', { conf: { kubeconfig, apiTimeoutSeconds: 1 }, call: cni.call({ annotations: null }) });
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ cniVersion: '1.0.0', code: 11, msg: expect.stringContaining('could not get pod shop/web-1') });
    expect(await ownRules(cni.pod)).toBe('');
  });

  it('a wrong token is refused by the API (401) and ends in code 11', async () => {
    const api = await startKubeApi(cni.node, cni.dataDir, { token, pods: {} });
    const kubeconfig = writeKubeconfig(cni.dataDir, `https://127.0.0.1:${api.port}`, api.caPem, 'not-the-token');
    const out = await outriggerCni('ADD', { conf: { kubeconfig, apiTimeoutSeconds: 0.5 }, call: cni.call({ annotations: null }) });
    expect(out.json).toMatchObject({ code: 11, msg: expect.stringContaining('401') });
    expect(api.requests.every((r) => !r.tokenOk)).toBe(true);
    // The token itself never appears in the error.
    expect(out.stdout).not.toContain('not-the-token');
  });
});

describe('STATUS, GC and VERSION', () => {
  it('STATUS (1.1.0) succeeds on this node and is code 50 when the kubeconfig cannot be read', async () => {
    const ok = await outriggerCni('STATUS', { version: '1.1.0' });
    expect([ok.exitCode, ok.stdout]).toEqual([0, '']);
    const bad = await outriggerCni('STATUS', { version: '1.1.0', conf: { kubeconfig: '/nonexistent/kubeconfig' } });
    expect(bad.json).toMatchObject({ cniVersion: '1.1.0', code: 50, details: expect.stringContaining('/nonexistent/kubeconfig') });
  });

  it('STATUS (1.1.0) is code 50 naming nft on a node without it when the network config asks for native nftables', async () => {
    const without = await outriggerCni('STATUS', { version: '1.1.0', conf: { nativeNftables: true }, hide: [nftPath] });
    expect(without.json).toMatchObject({ cniVersion: '1.1.0', code: 50, details: expect.stringContaining('nft is not on PATH') });
    // Without native nftables nft is not needed; with it on a node that has nft, STATUS passes.
    expect((await outriggerCni('STATUS', { version: '1.1.0', hide: [nftPath] })).exitCode).toBe(0);
    expect((await outriggerCni('STATUS', { version: '1.1.0', conf: { nativeNftables: true } })).exitCode).toBe(0);
  });

  it('GC (1.1.0) has nothing to collect and succeeds', async () => {
    const out = await outriggerCni('GC', { version: '1.1.0', conf: { 'cni.dev/valid-attachments': [] } });
    expect([out.exitCode, out.stdout]).toEqual([0, '']);
  });

  it('VERSION lists the supported versions', async () => {
    const out = await execPlugin(cni.node, 'outrigger-cni', 'VERSION', '{"cniVersion":"0.4.0"}', cni.call());
    expect(out.json).toEqual({ cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });
});
