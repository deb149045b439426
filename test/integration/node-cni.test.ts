// CNI mode on a real node (kubelet v1.34.4, containerd 1.6; cluster/cluster-node.ts), installed with the
// cni overlay: the installer DaemonSet chains outrigger-cni into the node's only conflist with the
// pod-annotations capability, containerd calls it with the real K8S_POD_* CNI_ARGS and the pod's
// annotations in runtimeConfig, injected pods run with proxy-validation and no proxy-init, capture is
// proven with real connections (IPv4 and IPv6), the plugin makes zero API calls (the API server's audit
// log), pod deletion leaves nothing behind, and deleting the DaemonSet restores the node byte for byte.
// STAND-IN: Envoy cannot be pulled here; the proxy image is the stand-in proxy (test/helpers/node-outrigger.ts).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../cluster/cluster.ts';
import { startNode, type ClusterNode } from '../../cluster/cluster-node.ts';
import { run } from '../../cluster/run-command.ts';
import { waitUntil } from '../../cluster/wait-until.ts';
import { appAnswer, appDeployment, applyObject, bracketed, connectFrom, installShipped, ipv4Of, ipv6Of, readyPod, shippedDifference, startPeerAndMesh, viaProxy, type PodInfo } from '../helpers/node-outrigger.js';

let cluster: Cluster;
let node: ClusterNode;
let peer: PodInfo;
let bridgeConflistBefore: Buffer;
const conflistName = '10-outrigger-test-pods.conflist';

/** JSON log lines outrigger-cni wrote to stderr, which containerd passes on to its own log. */
function pluginLogLines(): Record<string, unknown>[] {
  return readFileSync(join(cluster.logDir, 'containerd.log'), 'utf8').split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"outrigger-cni"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

type AuditEvent = { user: { username: string }; userAgent?: string; verb: string; objectRef?: { resource?: string; namespace?: string; name?: string }; requestURI: string };
function auditEvents(): AuditEvent[] {
  return readFileSync(cluster.auditLogFile, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as AuditEvent);
}

beforeAll(async () => {
  cluster = await startCluster();
  node = await startNode(cluster);
  bridgeConflistBefore = readFileSync(join(node.paths.cniConf, conflistName));
  await installShipped(cluster, 'cni');
  cluster.kubectlOk(['rollout', 'status', 'daemonset/outrigger-cni', '-n', 'outrigger', '--timeout=180s'], { timeoutMs: 200_000 });
  await waitUntil('outrigger-cni in the node\'s conflist', 60_000, () => readFileSync(join(node.paths.cniConf, conflistName), 'utf8').includes('outrigger-cni') || undefined, 500);
  peer = await startPeerAndMesh(cluster, 'mesh');
}, 600_000);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

describe('the installer on the node', () => {
  it('chains outrigger-cni into the node\'s only conflist, declaring the pod-annotations capability, with its binary and kubeconfig', () => {
    expect(shippedDifference(cluster, 'cni')).toEqual(['ConfigMap/outrigger-injector']);
    expect(readdirSync(node.paths.cniConf).filter((f) => f.endsWith('.conflist') || f.endsWith('.conf'))).toEqual([conflistName]);
    const conflist = JSON.parse(readFileSync(join(node.paths.cniConf, conflistName), 'utf8')) as { plugins: { type: string; capabilities?: Record<string, boolean>; kubeconfig?: string }[] };
    expect(conflist.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap', 'outrigger-cni']);
    const ours = conflist.plugins[2];
    expect(ours?.capabilities).toEqual({ 'io.kubernetes.cri.pod-annotations': true });
    expect(existsSync(join(node.paths.cniBin, 'outrigger-cni'))).toBe(true);
    expect(ours?.kubeconfig?.startsWith('/etc/cni/net.d/')).toBe(true);
    expect(existsSync(join(node.paths.cniConf, ours?.kubeconfig?.slice('/etc/cni/net.d/'.length) ?? 'none'))).toBe(true);
  });
});

describe('an injected pod in CNI mode', () => {
  let web: PodInfo;
  beforeAll(async () => {
    applyObject(cluster, appDeployment('web', 'mesh'));
    web = await readyPod(cluster, 'mesh', 'app=web', 180_000);
  }, 240_000);

  it('has no proxy-init, only proxy-validation, which passed', () => {
    const init = web.spec.initContainers?.map((c) => c.name);
    expect(init).toEqual(['proxy-validation', 'proxy']);
    expect(web.status.initContainerStatuses?.find((s) => s.name === 'proxy-validation')?.state.terminated?.exitCode).toBe(0);
  });

  it.each([['IPv4', ipv4Of], ['IPv6', ipv6Of]] as const)('%s: outbound lands on the proxy with its original destination, the proxy goes direct, inbound is captured', (_family, ip) => {
    const out = connectFrom(cluster, 'mesh', web.name, 'app', ip(peer), 8080);
    expect(viaProxy(out)).toEqual({ listener: 'outbound', original_dst: `${bracketed(ip(peer))}:8080`, uid: 1337 });
    expect(appAnswer(out)?.app).toBe('peer');
    const direct = connectFrom(cluster, 'mesh', web.name, 'proxy', ip(peer), 8080);
    expect(viaProxy(direct)).toBeUndefined();
    expect(appAnswer(direct)?.app).toBe('peer');
    const inbound = connectFrom(cluster, 'outside', peer.name, 'app', ip(web), 8080);
    expect(viaProxy(inbound)?.listener).toBe('inbound');
    expect(appAnswer(inbound)?.app).toBe('web');
  });

  it('was captured by containerd\'s call with the pod\'s identity and annotations from the runtime, and the plugin made zero API calls', () => {
    const applied = pluginLogLines().filter((l) => l.msg === 'capture applied');
    const forWeb = applied.filter((l) => JSON.stringify(l).includes(web.name));
    expect(forWeb.length, JSON.stringify(applied)).toBeGreaterThanOrEqual(1);
    // 'runtime': the settings came from the annotations the runtime passed, not from the API.
    expect(forWeb[0]?.source).toBe('runtime');
    // The audit log: nothing from the plugin (its user agent), and no read of this pod by the CNI account.
    const events = auditEvents();
    expect(events.filter((e) => e.userAgent?.startsWith('outrigger-cni') && !e.userAgent.startsWith('outrigger-cni-installer'))).toEqual([]);
    expect(events.filter((e) => e.user.username === 'system:serviceaccount:outrigger:outrigger-cni' && e.objectRef?.name === web.name)).toEqual([]);
    // The installer's own calls are there (so the audit log does see this account).
    expect(events.some((e) => e.user.username === 'system:serviceaccount:outrigger:outrigger-cni')).toBe(true);
  });

  it('deleting the pod runs DEL and leaves nothing of outrigger in the node\'s rules', async () => {
    const sandboxesBefore = pluginLogLines().filter((l) => l.command === 'DEL').length;
    cluster.kubectlOk(['delete', 'deployment', 'web', '-n', 'mesh', '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
    await waitUntil('the pod to be gone', 120_000, () => cluster.kubectlOk(['get', 'pods', '-n', 'mesh', '-l', 'app=web', '-o', 'name']).trim() === '' || undefined, 1_000);
    await waitUntil('DEL in the plugin log', 60_000, () => pluginLogLines().filter((l) => l.command === 'DEL').length > sandboxesBefore || undefined, 500);
    // Capture lived in the pod's network namespace, which is gone; the node's own namespace holds
    // kube-proxy's rules (which name the outrigger Service) and none of outrigger's ISTIO_ chains or routing.
    for (const save of ['iptables-save', 'ip6tables-save']) {
      const rules = run('ip', ['netns', 'exec', cluster.netns, save]).stdout;
      expect(rules).toMatch(/KUBE-SERVICES/);
      expect(rules).not.toMatch(/ISTIO_/);
    }
    expect(run('ip', ['-n', cluster.netns, 'rule', 'show']).stdout.trim().split('\n')).toHaveLength(3);
  }, 200_000);
});

describe('uninstall', () => {
  it('deleting the DaemonSet restores the conflist byte for byte and removes the binary and kubeconfig', async () => {
    cluster.kubectlOk(['delete', 'daemonset', 'outrigger-cni', '-n', 'outrigger', '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
    await waitUntil('the installer pod to be gone', 120_000, () => cluster.kubectlOk(['get', 'pods', '-n', 'outrigger', '-l', 'app.kubernetes.io/name=outrigger-cni', '-o', 'name']).trim() === '' || undefined, 1_000);
    expect(readFileSync(join(node.paths.cniConf, conflistName)).equals(bridgeConflistBefore)).toBe(true);
    expect(readdirSync(node.paths.cniConf)).toEqual([conflistName]);
    expect(existsSync(join(node.paths.cniBin, 'outrigger-cni'))).toBe(false);
  }, 200_000);
});
