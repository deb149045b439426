// The CNI installer's repair loop against the real kube-apiserver v1.34.4 (cluster/cluster.ts), with the
// cni overlay applied by kubectl and the installer authenticated as the shipped outrigger-cni
// ServiceAccount (a TokenRequest token, as the kubelet projects it), so every call goes through the
// overlay's RBAC. The installer is the real `outrigger cni install` process with the DaemonSet's
// repair flags, run in the cluster's network namespace and reaching the API server the way an
// in-cluster pod does (KUBERNETES_SERVICE_HOST/PORT, token and CA files).
// STAND-INS, until the cluster has a node: the injector runs as local processes (cluster-outrigger.ts);
// node-a and node-b are Node objects with no kubelet, and the test writes what the kubelet would
// report (proxy-validation exited 126) through the pod status subresource; the installer's CNI
// directories are temporary folders holding flannel's conflist. Pods tolerate every taint, since the
// node lifecycle controller taints nodes whose kubelet never reports.
// Shown: a pod of a labelled namespace created before the installer, whose proxy-validation failed, is
// deleted with its UID by the repair loop and its ReplicaSet creates a new one; a failing pod on
// another node is never seen (the audit log: every list and watch carries the node's field
// selector); at steady state the loop holds a watch and makes no lists, whatever its resync; after
// kube-apiserver is stopped and started again, a pod that fails afterwards is still repaired.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../cluster/cluster.ts';
import { waitUntil } from '../../cluster/wait-until.ts';
import { type InstallerProcess, makeNodeLayout, type NodeLayout, startInstaller, stopAllInstallers } from '../helpers/cni-installer.js';
import { applyOverlay, createNamespace, OutriggerNamespace, renderOverlayWithClusterKubectl, startLocalInjectors, waitForWebhook } from '../helpers/cluster-outrigger.js';

const ns = 'shop';
const CniUser = `system:serviceaccount:${OutriggerNamespace}:outrigger-cni`;

type StoredPod = { metadata: { name: string; uid: string; deletionTimestamp?: string; annotations?: Record<string, string>; ownerReferences?: { kind: string }[] }; spec: { nodeName?: string; initContainers?: { name: string }[] } };
type AuditEvent = { verb: string; stage: string; requestURI: string; user: { username: string }; objectRef?: { resource?: string; namespace?: string; name?: string }; responseStatus?: { code?: number }; requestReceivedTimestamp: string };

let cluster: Cluster;
let layout: NodeLayout;
let installer: InstallerProcess;
let startedAt = 0;
/** The ReplicaSet's first pod, the one that escaped capture. */
let escaped: StoredPod;

function pod(name: string): StoredPod {
  return JSON.parse(cluster.kubectlOk(['get', 'pod', name, '-n', ns, '-o', 'json'])) as StoredPod;
}

function podsOf(selector: string): StoredPod[] {
  return (JSON.parse(cluster.kubectlOk(['get', 'pods', '-n', ns, '-l', selector, '-o', 'json'])) as { items: StoredPod[] }).items;
}

/** What the kubelet would write when proxy-validation finds no capture (STAND-IN: there is no kubelet). */
function validationFailed(name: string, restartCount = 0): void {
  const status = { initContainerStatuses: [{ name: 'proxy-validation', image: 'outrigger/outrigger:0.1.0', imageID: '', ready: false, restartCount, state: { terminated: { exitCode: 126, reason: 'Error' } } }] };
  cluster.kubectlOk(['patch', 'pod', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

const podSpec = (node: string) => ({
  nodeName: node,
  // The node lifecycle controller taints a node whose kubelet never reports; nothing may evict these.
  tolerations: [{ operator: 'Exists' }],
  containers: [{ name: 'app', image: 'outrigger/test-app:0.1.0', ports: [{ containerPort: 8080 }] }],
});

function auditOfCni(): AuditEvent[] {
  return readFileSync(cluster.auditLogFile, 'utf8').split('\n').filter((l) => l.includes(CniUser)).map((l) => JSON.parse(l) as AuditEvent).filter((e) => e.user.username === CniUser);
}

beforeAll(async () => {
  cluster = await startCluster();
  applyOverlay(cluster, 'cni');
  await startLocalInjectors(cluster, { overlay: 'cni' });
  for (const node of ['node-a', 'node-b']) {
    cluster.kubectlOk(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: node }, spec: { unschedulable: true } }) });
  }
  await createNamespace(cluster, ns);
  await waitForWebhook(cluster, ns);

  // Pods that started before the plugin was on the node.
  cluster.kubectlOk(['create', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web', namespace: ns },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: podSpec('node-a') } },
    }),
  });
  for (const [name, node] of [['fails-later', 'node-a'], ['healthy', 'node-a'], ['elsewhere', 'node-b']] as const) {
    cluster.kubectlOk(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app: name } }, spec: podSpec(node) }) });
  }
  const [web] = await waitUntil('the ReplicaSet pod', 30_000, () => {
    const pods = podsOf('app=web');
    return pods.length === 1 ? pods : undefined;
  }, 300);
  // Injected for CNI mode: the capture settings annotation and proxy-validation, no proxy-init.
  const init = web?.spec.initContainers?.map((c) => c.name);
  if (!web?.metadata.annotations?.['outrigger.dev/capture-settings'] || !init?.includes('proxy-validation') || init.includes('proxy-init')) {
    throw new Error(`the ReplicaSet pod is not injected for CNI mode: ${JSON.stringify(web)}`);
  }
  if (!web) throw new Error('no ReplicaSet pod');
  escaped = web;
  validationFailed(escaped.metadata.name);
  validationFailed('elsewhere');

  // The installer, with the DaemonSet's repair flags and the shipped ServiceAccount's token.
  const daemonSet = renderOverlayWithClusterKubectl(cluster, 'cni').find((d) => d.kind === 'DaemonSet');
  const args = (daemonSet?.spec.template.spec.containers[0].args as string[]).filter((a) => a.startsWith('--repair-mode=') || a.startsWith('--exclude-namespaces='));
  expect(args).toEqual(['--exclude-namespaces=kube-system,outrigger', '--repair-mode=delete']);
  const token = cluster.kubectlOk(['create', 'token', 'outrigger-cni', '-n', OutriggerNamespace, '--duration=3600s']).trim();
  layout = makeNodeLayout(readFileSync(cluster.pki.caCertFile, 'utf8'), token);
  writeFileSync(join(layout.confDir, '10-flannel.conflist'), readFileSync(new URL('../fixtures/cni-configs/10-flannel.conflist', import.meta.url)));
  mkdirSync(join(layout.root, 'plugin'));
  writeFileSync(join(layout.root, 'plugin', 'outrigger-cni'), 'plugin stand-in bytes\n');
  startedAt = Date.now();
  installer = startInstaller(layout, [...args, '--plugin-binary', join(layout.root, 'plugin', 'outrigger-cni'), '--repair-interval', '1s'], {
    KUBERNETES_SERVICE_HOST: cluster.clusterIp, KUBERNETES_SERVICE_PORT: '6443', NODE_NAME: 'node-a',
  }, { netnsPath: cluster.netnsPath });
}, 240_000);

afterAll(async () => {
  stopAllInstallers();
  layout?.remove();
  await cluster?.stop();
}, 90_000);

describe('the repair loop against the real API server, with the shipped RBAC', () => {
  it("lists this node's pods only, then watches them", async () => {
    const listed = await installer.waitForLog((l) => l.msg === 'listed the pods of this node; watching them', 30_000);
    // web, fails-later and healthy: never node-b's pod.
    expect(listed.pods).toBe(3);
    await waitUntil('the watch', 15_000, () => auditOfCni().some((e) => e.verb === 'watch') || undefined, 200);
  });

  it('deletes the escaped pod with its UID; its ReplicaSet creates a new one, which is left alone', async () => {
    const { uid, name } = escaped.metadata;
    const terminating = await waitUntil('the repair loop to delete the escaped pod', 30_000, () => {
      const now = podsOf('app=web').find((p) => p.metadata.uid === uid);
      return now?.metadata.deletionTimestamp;
    }, 200);
    expect(terminating).toBeTruthy();
    const deletes = auditOfCni().filter((e) => e.verb === 'delete' && e.stage === 'ResponseComplete');
    expect(deletes.map((e) => `${e.objectRef?.namespace}/${e.objectRef?.name} ${e.responseStatus?.code}`)).toEqual([`${ns}/${name} 200`]);
    // STAND-IN for the kubelet: with no node to stop its containers, the deletion is finished as the
    // kubelet finishes it (grace period 0, once the containers are gone).
    cluster.kubectlOk(['delete', 'pod', name, '-n', ns, '--grace-period=0', '--force']);
    const replacement = await waitUntil('the ReplicaSet to replace the pod', 30_000, () => {
      const pods = podsOf('app=web');
      return pods.length === 1 && pods[0]?.metadata.uid !== uid ? pods[0] : undefined;
    }, 300);
    expect(podsOf('app=web').map((p) => p.metadata.uid)).not.toContain(uid);
    expect(replacement.metadata.ownerReferences?.[0]?.kind).toBe('ReplicaSet');
    expect(replacement.spec.nodeName).toBe('node-a');
    // The new pod has not failed: two more resyncs, and it is still there, not terminating.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(pod(replacement.metadata.name).metadata.deletionTimestamp).toBeUndefined();
    expect(pod('healthy').metadata.deletionTimestamp).toBeUndefined();
  });

  it("never sees another node's failing pod: every list and watch carries spec.nodeName=node-a", () => {
    expect(pod('elsewhere').metadata.deletionTimestamp).toBeUndefined();
    const reads = auditOfCni().filter((e) => e.verb === 'list' || e.verb === 'watch');
    expect(reads.length).toBeGreaterThanOrEqual(2);
    for (const read of reads) {
      expect(read.objectRef?.resource).toBe('pods');
      expect(new URL(read.requestURI, 'https://api').searchParams.get('fieldSelector')).toBe('spec.nodeName=node-a');
      expect(read.responseStatus?.code).toBe(200);
    }
    expect(auditOfCni().filter((e) => e.verb !== 'list' && e.verb !== 'watch' && e.verb !== 'delete')).toEqual([]);
  });

  it('at steady state holds its watch and makes no list, while resyncing every second', async () => {
    const from = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 10_000));
    const window = auditOfCni().filter((e) => e.requestReceivedTimestamp > from);
    expect(window.filter((e) => e.verb === 'list')).toEqual([]);
    // One list in all, at start (a poll at this resync would have made one per second).
    expect(auditOfCni().filter((e) => e.verb === 'list' && e.stage === 'ResponseComplete')).toHaveLength(1);
    expect(installer.logs.filter((l) => /cannot list or watch/.test(l.msg))).toEqual([]);
    expect(Date.now() - startedAt).toBeGreaterThan(10_000);
  }, 30_000);

  it('keeps working when kube-apiserver is stopped and started again: a pod that fails afterwards is repaired', async () => {
    const before = auditOfCni().length;
    await cluster.restartComponent('kube-apiserver', { downMs: 2_000 });
    await installer.waitForLog((l) => l.msg === 'cannot list or watch the pods of this node; retrying with back-off', 30_000);
    const uid = pod('fails-later').metadata.uid;
    validationFailed('fails-later', 1);
    await waitUntil('the repair loop to delete the pod that failed after the restart', 60_000, () => pod('fails-later').metadata.deletionTimestamp || undefined, 300);
    await installer.waitForLog((l) => l.msg === 'listing and watching the pods of this node works again', 30_000);
    const after = auditOfCni().slice(before);
    expect(after.filter((e) => e.verb === 'delete' && e.stage === 'ResponseComplete').map((e) => `${e.objectRef?.name} ${e.responseStatus?.code}`)).toEqual(['fails-later 200']);
    // Back on a watch of the same node (the restarted API server audits to the same file).
    expect(after.some((e) => e.verb === 'watch' && new URL(e.requestURI, 'https://api').searchParams.get('fieldSelector') === 'spec.nodeName=node-a')).toBe(true);
    expect(pod('fails-later').metadata.uid).toBe(uid);
    expect(pod('elsewhere').metadata.deletionTimestamp).toBeUndefined();
  }, 120_000);

  it('stops on SIGTERM at once, its watch closed, and exits 0', async () => {
    const started = Date.now();
    expect(await installer.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
