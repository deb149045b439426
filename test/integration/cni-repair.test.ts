/**
 * The repair loop of the real `outrigger cni install` process. The API server is a local HTTPS
 * STAND-IN (test/helpers/pod-api-stand-in.ts) that checks the token, the node field selector of
 * the list and the watch, the DELETE path and its DeleteOptions body; the real kube-apiserver is
 * in cluster-repair-loop.test.ts.
 *   delete mode: exactly the escaped pods of this node are deleted, once each, with a UID
 *                precondition, also after the token rotates; metrics count them. One list, then
 *                watches; a pod that fails later is repaired from its watch event, long before
 *                the resync, also after the API server went away and came back.
 *   apply mode:  a pod network namespace holding a process in the pod's cgroup (as the kubelet
 *                lays it out) is found through /proc and captured; real connections prove it.
 */

import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CaptureSettingsAnnotation, encodeCaptureSettings, rawSettingsFromAnnotations } from '../../capture/pod-annotations.js';
import type { Pod } from '../../cni-plugin/repair/repair-decisions.js';
import { httpGet, type InstallerProcess, makeNodeLayout, type NodeLayout, startInstaller, stopAllInstallers, waitFor, writeAtomically } from '../helpers/cni-installer.js';
import { type KubeApiStandIn, startKubeApiStandIn } from '../helpers/pod-api-stand-in.js';
import { createPodPair, destroyAllNamespaces, requireRealKernel } from '../helpers/netns.js';
import { startPodProcess, stopAllPodProcesses } from '../helpers/pod-process.js';
import { hostPort, probe, startProbe, stopAllProbes } from '../helpers/probes.js';

const NODE = 'worker-1';
const settings = encodeCaptureSettings(rawSettingsFromAnnotations({}).raw);

let api: KubeApiStandIn;
const layouts: NodeLayout[] = [];
beforeAll(async () => {
  requireRealKernel();
  api = await startKubeApiStandIn('token-one');
});
afterEach(async () => {
  stopAllInstallers();
  stopAllProbes();
  await stopAllPodProcesses();
});
afterAll(async () => {
  destroyAllNamespaces();
  for (const layout of layouts) layout.remove();
  await api.close();
});

function pod(name: string, options: { createdAt?: number; ns?: string; node?: string; annotated?: boolean; exitCode?: number; waiting?: boolean; hostNetwork?: boolean; uid?: string } = {}): Pod {
  const terminated = { exitCode: options.exitCode ?? 126 };
  return {
    metadata: {
      name, namespace: options.ns ?? 'shop', uid: options.uid ?? randomUUID(),
      creationTimestamp: new Date(options.createdAt ?? Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      ...(options.annotated === false ? {} : { annotations: { [CaptureSettingsAnnotation]: settings, 'sidecar.istio.io/status': '{}' } }),
    },
    spec: { nodeName: options.node ?? NODE, ...(options.hostNetwork ? { hostNetwork: true } : {}) },
    status: {
      initContainerStatuses: [
        options.waiting
          ? { name: 'proxy-validation', restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated } }
          : { name: 'proxy-validation', restartCount: 0, state: { terminated } },
      ],
    },
  };
}

function startWithRepair(mode: 'delete' | 'apply', through: 'in-cluster' | 'kubeconfig' = 'in-cluster', interval = '200ms'): { installer: InstallerProcess; layout: NodeLayout } {
  const layout = makeNodeLayout(api.caPem, api.token);
  layouts.push(layout);
  writeFileSync(join(layout.confDir, '10-flannel.conflist'), readFileSync(new URL('../fixtures/cni-configs/10-flannel.conflist', import.meta.url)));
  writeFileSync(join(layout.root, 'outrigger-cni'), 'plugin stand-in bytes\n');
  let access: string[] = [];
  let env: Record<string, string> = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
  if (through === 'kubeconfig') {
    const kubeconfig = join(layout.root, 'kubeconfig');
    writeFileSync(kubeconfig, [
      'apiVersion: v1', 'kind: Config', 'current-context: stand-in',
      'clusters:', '- name: stand-in', '  cluster:', `    server: https://127.0.0.1:${api.port}`, '    certificate-authority: sa/ca.crt',
      'users:', '- name: u', '  user:', '    tokenFile: sa/token',
      'contexts:', '- name: stand-in', '  context: { cluster: stand-in, user: u }', '',
    ].join('\n'));
    access = ['--kubeconfig', kubeconfig];
    env = {};
  }
  const installer = startInstaller(layout, [
    '--plugin-binary', join(layout.root, 'outrigger-cni'), '--repair-mode', mode, '--node-name', NODE, '--repair-interval', interval,
    '--host-proc', '/proc', '--exclude-namespaces', 'kube-system,outrigger', ...access,
  ], env);
  return { installer, layout };
}

function metric(body: string, labels: string): number {
  const line = body.split('\n').find((l) => l.startsWith(`outrigger_cni_repair_pods_total{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('repair mode delete', () => {
  it('deletes exactly the escaped pods of this node, once each, with a UID precondition', async () => {
    const escaped = pod('escaped');
    const backingOff = pod('backing-off', { waiting: true });
    api.pods = [
      escaped, backingOff,
      pod('captured', { exitCode: 0 }), pod('other-failure', { exitCode: 1 }), pod('system', { ns: 'kube-system' }),
      pod('elsewhere', { node: 'worker-2' }), pod('not-prepared', { annotated: false }), pod('host-network', { hostNetwork: true }),
      pod('created-after-install', { createdAt: Date.now() + 600_000 }),
    ];
    api.requests.length = 0;
    const { installer, layout } = startWithRepair('delete');
    const port = await installer.statusPort();
    await waitFor('two deletes', () => api.requests.filter((r) => r.method === 'DELETE').length === 2);
    await new Promise((r) => setTimeout(r, 1000)); // five more passes: nothing is deleted twice

    const deletes = api.requests.filter((r) => r.method === 'DELETE');
    expect(deletes.map((r) => r.path).sort()).toEqual(['/api/v1/namespaces/shop/pods/backing-off', '/api/v1/namespaces/shop/pods/escaped']);
    for (const request of deletes) {
      const target = request.path.endsWith('escaped') ? escaped : backingOff;
      expect(JSON.parse(request.body)).toEqual({ kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: target.metadata.uid } });
      expect(request.status).toBe(200);
    }
    // One list (from the watch cache), then a watch from its resourceVersion: no list per resync.
    const [list, ...watches] = api.requests.filter((r) => r.method === 'GET');
    expect(list?.query).toEqual({ fieldSelector: `spec.nodeName=${NODE}`, resourceVersion: '0' });
    expect(watches.length).toBeGreaterThanOrEqual(1);
    for (const request of [list, ...watches]) {
      expect(request?.path).toBe('/api/v1/pods');
      expect(request?.authorization).toBe('Bearer token-one');
      expect(request?.status).toBe(200);
    }
    for (const request of watches) expect(request.query).toEqual({ watch: 'true', fieldSelector: `spec.nodeName=${NODE}`, resourceVersion: expect.stringMatching(/^[1-9]\d*$/) });
    expect(api.pods.map((p) => p.metadata.name)).not.toContain('escaped');
    const metrics = (await httpGet(port, '/metrics')).body;
    expect(metric(metrics, 'mode="delete",outcome="deleted",reason="validation-failed"')).toBe(2);
    expect(metric(metrics, 'mode="delete",outcome="failed",reason="delete-failed"')).toBe(0);
    expect(metric(metrics, 'mode="delete",outcome="skipped",reason="started-after-install"')).toBe(1);

    // The token rotates: the next calls carry the new one.
    api.token = 'token-two';
    writeAtomically(layout.tokenFile, 'token-two');
    api.pods.push(pod('escaped-later'));
    await waitFor('the delete with the rotated token', () => api.requests.find((r) => r.method === 'DELETE' && r.path.endsWith('/escaped-later')));
    expect(api.requests.find((r) => r.path.endsWith('/escaped-later'))?.authorization).toBe('Bearer token-two');
    expect(await installer.stop()).toBe(0);
  });

  it('repairs a pod that fails later from its watch event, long before the resync, also after the API server restarts', async () => {
    const later = pod('fails-later', { exitCode: 0 });
    api.pods = [pod('escaped-at-start'), later];
    api.requests.length = 0;
    // Resync once an hour: only the watch (and the install itself) can bring a change in time.
    const { installer } = startWithRepair('delete', 'in-cluster', '60m');
    await installer.waitForLog((l) => l.msg === 'listed the pods of this node; watching them');
    await waitFor('the delete once the plugin is installed', () => api.requests.find((r) => r.method === 'DELETE' && r.path.endsWith('/escaped-at-start')), 5_000);
    await waitFor('the watch', () => api.requests.some((r) => r.query.watch === 'true'));
    api.pods = [pod('fails-later', { uid: later.metadata.uid })];
    await waitFor('the delete from the watch event', () => api.requests.find((r) => r.method === 'DELETE' && r.path.endsWith('/fails-later')), 5_000);

    // The API server goes away for 3 s (connections cut, then refused) and comes back.
    await api.restart(3_000);
    await installer.waitForLog((l) => l.msg === 'cannot list or watch the pods of this node; retrying with back-off');
    api.pods.push(pod('fails-after-restart'));
    await waitFor('the delete after the restart', () => api.requests.find((r) => r.method === 'DELETE' && r.path.endsWith('/fails-after-restart')), 45_000);
    await installer.waitForLog((l) => l.msg === 'listing and watching the pods of this node works again');
    // Still one list: the watch resumed from its resourceVersion.
    expect(api.requests.filter((r) => r.method === 'GET' && r.query.watch !== 'true')).toHaveLength(1);
    // Reconnecting was spaced by the back-off, not a busy loop (cut at once, refused for 3 s).
    const failures = installer.logs.filter((l) => /cannot list or watch|still cannot list or watch/.test(l.msg));
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures.length).toBeLessThanOrEqual(4);
    expect(await installer.stop()).toBe(0);
  }, 90_000);

  it('reaches the API through --kubeconfig (server, CA file, token file) as well', async () => {
    api.pods = [pod('escaped-kc')];
    api.requests.length = 0;
    const { installer, layout } = startWithRepair('delete', 'kubeconfig');
    await waitFor('the delete', () => api.requests.find((r) => r.method === 'DELETE' && r.path === '/api/v1/namespaces/shop/pods/escaped-kc'));
    expect(api.requests.every((r) => r.authorization === `Bearer ${api.token}`)).toBe(true);
    const written = readFileSync(join(layout.confDir, 'ZZZ-outrigger-cni-kubeconfig'), 'utf8');
    expect(written).toContain(`server: "https://127.0.0.1:${api.port}"`);
    expect(await installer.stop()).toBe(0);
  });
});

describe('repair mode apply', () => {
  it('finds the pod network namespace through /proc and captures its traffic', async () => {
    const pair = createPodPair();
    const uid = randomUUID();
    const sandbox = await startPodProcess(pair.pod, uid);
    expect(readFileSync(`/proc/${sandbox.pid}/cgroup`, 'utf8')).toContain(`pod${uid.replaceAll('-', '_')}.slice`);
    await startProbe(pair.peer, { name: 'peer-app', tcp: ['0.0.0.0:8080', '[::]:8080'] });
    await startProbe(pair.pod, { name: 'proxy-outbound', tcp: ['0.0.0.0:15001', '[::]:15001'], uid: 1337 });
    await startProbe(pair.pod, { name: 'proxy-inbound', tcp: ['0.0.0.0:15006', '[::]:15006'], uid: 1337 });
    // Before the repair the pod is not captured: the app reaches its peer directly.
    expect(await probe(pair.pod, 'tcp', pair.peerV4, 8080, { uid: 1000, gid: 1000 })).toMatchObject({ listener: 'peer-app' });
    expect(await probe(pair.pod, 'tcp', pair.peerV6, 8080, { uid: 1000, gid: 1000 })).toMatchObject({ listener: 'peer-app' });

    api.pods = [pod('escaped', { uid }), pod('no-process')];
    api.requests.length = 0;
    const { installer } = startWithRepair('apply');
    const port = await installer.statusPort();
    await waitFor('the repair and the failure to be counted', async () => {
      const body = (await httpGet(port, '/metrics')).body;
      return metric(body, 'mode="apply",outcome="repaired",reason="validation-failed"') === 1 &&
        metric(body, 'mode="apply",outcome="failed",reason="netns-not-found"') >= 1;
    }, 30_000);
    expect(api.requests.filter((r) => r.method === 'DELETE')).toEqual([]);

    expect(await probe(pair.pod, 'tcp', pair.peerV4, 8080, { uid: 1000, gid: 1000 })).toMatchObject({
      listener: 'proxy-outbound', original_dst: hostPort(pair.peerV4, 8080),
    });
    expect(await probe(pair.peer, 'tcp', pair.podV4, 9090)).toMatchObject({ listener: 'proxy-inbound', original_dst: hostPort(pair.podV4, 9090) });
    // The pod has a global IPv6 address, so IPv6 is captured too (ipv6 auto, as outrigger init).
    expect(await probe(pair.pod, 'tcp', pair.peerV6, 8080, { uid: 1000, gid: 1000 })).toMatchObject({
      listener: 'proxy-outbound', original_dst: hostPort(pair.peerV6, 8080),
    });
    // The proxy's own traffic still goes straight out.
    expect(await probe(pair.pod, 'tcp', pair.peerV4, 8080, { uid: 1337, gid: 1337 })).toMatchObject({ listener: 'peer-app' });
    const repairedLog = installer.logs.find((l) => l.msg.startsWith('applied capture'));
    expect(repairedLog).toMatchObject({ pod: 'shop/escaped', pid: sandbox.pid });

    expect(await installer.stop()).toBe(0);
    await sandbox.stop();
    pair.destroy();
  });
});
