// The webhook's availability as the API server sees it (kube-apiserver v1.34.4; cluster/cluster.ts):
// failurePolicy Fail keeps pods in labelled namespaces from starting without a proxy when the injector
// is down, without touching other namespaces; and a rolling restart of the injector (maxSurge 1,
// maxUnavailable 0, as the shipped Deployment) under a steady, bounded stream of pod creations loses
// no admission: every create succeeds and every pod comes back injected.
// STAND-IN: the replicas are local processes and the harness plays the endpointslice controller (a
// replica is listed not ready before it gets SIGTERM, as for a terminating pod); see
// test/helpers/cluster-outrigger.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../cluster/cluster.ts';
import { applyOverlay, createNamespace, type LocalInjectors, startLocalInjectors, waitForWebhook } from '../helpers/cluster-outrigger.js';
import { clusterApi } from '../helpers/cluster-api.js';

let cluster: Cluster;
let injectors: LocalInjectors;

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'outrigger/test-app:0.1.0' }] } });

beforeAll(async () => {
  cluster = await startCluster();
  applyOverlay(cluster, 'default');
  injectors = await startLocalInjectors(cluster, { replicas: 2 });
  await createNamespace(cluster, 'meshed');
  await createNamespace(cluster, 'plain', {});
  await waitForWebhook(cluster, 'meshed');
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('failurePolicy Fail', () => {
  it('refuses pods in a labelled namespace while the injector is down, and leaves other namespaces alone', async () => {
    await injectors.stopAll();
    const refused = cluster.kubectl(['create', '-n', 'meshed', '-f', '-'], { input: JSON.stringify(pod('while-down')) });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/failed calling webhook "sidecar-injector\.outrigger\.io"/);
    expect(cluster.kubectl(['get', 'pod', 'while-down', '-n', 'meshed']).status).not.toBe(0);
    cluster.kubectlOk(['create', '-n', 'plain', '-f', '-'], { input: JSON.stringify(pod('unaffected')) });
    // Back up: the same pod is admitted and injected.
    await injectors.add();
    await injectors.add();
    await waitForWebhook(cluster, 'meshed');
    const created = JSON.parse(cluster.kubectlOk(['create', '-n', 'meshed', '-o', 'json', '-f', '-'], { input: JSON.stringify(pod('after-recovery')) })) as { spec: { initContainers?: { name: string }[] } };
    expect((created.spec.initContainers ?? []).map((c) => c.name)).toContain('proxy');
  }, 120_000);
});

describe('rolling restart under load', () => {
  it('loses no admission while every replica is replaced, one at a time', async () => {
    const api = clusterApi(cluster, { maxSockets: 4 });
    const results: { name: string; status: number; injected: boolean; error?: string }[] = [];
    let stop = false;
    const deadline = Date.now() + 150_000;
    let n = 0;
    // Two creators at a time, bounded by count (600) and time (150 s).
    const creator = async () => {
      while (!stop && n < 600 && Date.now() < deadline) {
        const name = `load-${n++}`;
        try {
          const res = await api.post('/api/v1/namespaces/meshed/pods', pod(name));
          const body = JSON.parse(res.body) as { spec?: { initContainers?: { name: string }[] }; message?: string };
          results.push({ name, status: res.status, injected: (body.spec?.initContainers ?? []).some((c) => c.name === 'proxy'), ...(body.message ? { error: body.message } : {}) });
        } catch (error) {
          results.push({ name, status: 0, injected: false, error: (error as Error).message });
        }
      }
    };
    const creators = [creator(), creator()];
    // Let creations flow first, then replace both replicas.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const before = injectors.replicas.map((r) => r.address);
    await injectors.rollingRestart();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    stop = true;
    await Promise.all(creators);
    api.close();
    const after = injectors.replicas.map((r) => r.address);
    expect(after.filter((a) => before.includes(a))).toEqual([]);
    expect(results.length).toBeGreaterThan(20);
    const failed = results.filter((r) => r.status !== 201 || !r.injected);
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
  }, 200_000);
});
