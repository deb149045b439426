// outrigger on a real node (kubelet v1.34.4, containerd 1.6, runc, Debian's CNI plugins;
// cluster/cluster-node.ts), installed with the default overlay: the injector runs as its Deployment (2
// replicas, PDB, probes) and the API server reaches it through its Service. Injected pods run for real:
// proxy-init, the proxy as a native sidecar, and capture proven with connections made inside the pods,
// IPv4 and IPv6; a Job completes; the pod's own init containers reach the network in native and classic
// mode; killing the app container or the sandbox leaves capture in place.
// STAND-IN: Envoy cannot be pulled here; the proxy image is the stand-in proxy (test/helpers/node-outrigger.ts).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../cluster/cluster.ts';
import { startNode, type ClusterNode } from '../../cluster/cluster-node.ts';
import { waitUntil } from '../../cluster/wait-until.ts';
import { parse as parseYaml, stringify } from 'yaml';
import { clusterApi } from '../helpers/cluster-api.js';
import { appAnswer, appDeployment, applyObject, bracketed, connectFrom, installShipped, ipv4Of, ipv6Of, pod, pods, readyPod, shippedDifference, startPeerAndMesh, TestAppImage, viaProxy, type PodInfo } from '../helpers/node-outrigger.js';

let cluster: Cluster;
let node: ClusterNode;
let peer: PodInfo;

beforeAll(async () => {
  cluster = await startCluster();
  node = await startNode(cluster);
  await installShipped(cluster, 'default');
  peer = await startPeerAndMesh(cluster, 'shop');
}, 600_000);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

describe('the injector on the node', () => {
  it('runs as the shipped Deployment: 2 ready replicas on the node behind its Service, a PDB, probes', () => {
    expect(shippedDifference(cluster, 'default')).toEqual(['ConfigMap/outrigger-injector']);
    const replicas = pods(cluster, 'outrigger', 'app.kubernetes.io/name=outrigger-injector');
    expect(replicas.filter((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))).toHaveLength(2);
    const slices = JSON.parse(cluster.kubectlOk(['get', 'endpointslices', '-n', 'outrigger', '-l', 'kubernetes.io/service-name=outrigger-injector', '-o', 'json'])) as { items: { endpoints?: { addresses: string[]; conditions: { ready: boolean } }[] }[] };
    const ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions.ready).flatMap((e) => e.addresses);
    expect(ready.sort()).toEqual(replicas.map(ipv4Of).sort());
    const pdb = JSON.parse(cluster.kubectlOk(['get', 'pdb', 'outrigger-injector', '-n', 'outrigger', '-o', 'json'])) as { status: { currentHealthy: number; disruptionsAllowed: number } };
    expect(pdb.status.currentHealthy).toBe(2);
    expect(pdb.status.disruptionsAllowed).toBe(1);
  });
});

describe('an injected Deployment (native sidecar, the default)', () => {
  let web: PodInfo;
  beforeAll(async () => {
    applyObject(cluster, appDeployment('web', 'shop'));
    web = await readyPod(cluster, 'shop', 'app=web');
  }, 180_000);

  it('runs proxy-init to completion, then the proxy as a native sidecar started before the app', () => {
    const init = web.status.initContainerStatuses ?? [];
    const proxyInit = init.find((s) => s.name === 'proxy-init');
    const proxy = init.find((s) => s.name === 'proxy');
    const app = web.status.containerStatuses?.find((s) => s.name === 'app');
    expect(proxyInit?.state.terminated?.exitCode).toBe(0);
    expect(web.spec.initContainers?.find((c) => c.name === 'proxy')?.restartPolicy).toBe('Always');
    expect(proxy?.state.running).toBeDefined();
    expect(proxy?.started).toBe(true);
    expect(Date.parse(proxy?.state.running?.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(proxyInit?.state.terminated?.finishedAt ?? ''));
    expect(Date.parse(app?.state.running?.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(proxy?.state.running?.startedAt ?? ''));
  });

  it.each([['IPv4', ipv4Of], ['IPv6', ipv6Of]] as const)('%s: the app\'s outbound connection lands on the proxy with its original destination', (_family, ip) => {
    const target = ip(peer);
    expect(target).not.toBe('');
    const result = connectFrom(cluster, 'shop', web.name, 'app', target, 8080);
    expect(result.error).toBeUndefined();
    expect(viaProxy(result)).toEqual({ listener: 'outbound', original_dst: `${bracketed(target)}:8080`, uid: 1337 });
    expect(appAnswer(result)?.app).toBe('peer');
    expect(result.client_uid).toBe(1000);
  });

  it('a ClusterIP Service (kube-proxy on the node): the app\'s connection to it is captured with the Service address as original destination', async () => {
    cluster.kubectlOk(['expose', 'deployment', 'peer', '-n', 'outside', '--port', '80', '--target-port', '8080', '--name', 'peer']);
    const clusterIp = cluster.kubectlOk(['get', 'service', 'peer', '-n', 'outside', '-o', 'jsonpath={.spec.clusterIP}']).trim();
    expect(clusterIp).toMatch(/^198\.19\./);
    // kube-proxy programs the Service a moment after it is created; until then the proxy's upstream
    // connection fails and the app gets an empty answer. Retry (bounded) until something answers.
    const result = await waitUntil('kube-proxy to program the peer Service', 60_000, () => {
      const attempt = connectFrom(cluster, 'shop', web.name, 'app', clusterIp, 80);
      return attempt.lines.length > 0 ? attempt : undefined;
    }, 1000);
    expect(result.error).toBeUndefined();
    // Capture happens before kube-proxy's DNAT (in the pod's namespace): the proxy sees the Service address.
    expect(viaProxy(result)).toEqual({ listener: 'outbound', original_dst: `${clusterIp}:80`, uid: 1337 });
    expect(appAnswer(result)?.app).toBe('peer');
  });

  it.each([['IPv4', ipv4Of], ['IPv6', ipv6Of]] as const)('%s: the proxy\'s own connection goes direct', (_family, ip) => {
    const result = connectFrom(cluster, 'shop', web.name, 'proxy', ip(peer), 8080);
    expect(result.error).toBeUndefined();
    expect(viaProxy(result)).toBeUndefined();
    expect(appAnswer(result)?.app).toBe('peer');
    expect(result.client_uid).toBe(1337);
  });

  it.each([['IPv4', ipv4Of], ['IPv6', ipv6Of]] as const)('%s: inbound to the app port is captured; the health port is not', (_family, ip) => {
    const target = ip(web);
    const inbound = connectFrom(cluster, 'outside', peer.name, 'app', target, 8080);
    expect(inbound.error).toBeUndefined();
    expect(viaProxy(inbound)?.listener).toBe('inbound');
    expect(appAnswer(inbound)?.app).toBe('web');
    // 15021 is excluded from inbound capture (-d): the proxy's health listener answers directly, so no
    // relay header comes first (a captured connection would be relayed by the inbound listener).
    const health = cluster.kubectl(['exec', '-n', 'outside', peer.name, '--', '/usr/bin/python3', '-c',
      `import socket; s=socket.create_connection(("${target}", 15021), timeout=3); s.sendall(b"GET /healthz/ready HTTP/1.0\\r\\n\\r\\n"); print(s.recv(200).decode().splitlines()[0])`]);
    expect(health.stdout.trim()).toBe('HTTP/1.0 200 OK');
  });
});

describe('native sidecars and init containers', () => {
  it('a Job with the native sidecar completes: the sidecar does not keep it running', async () => {
    applyObject(cluster, {
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'once', namespace: 'shop' },
      spec: { backoffLimit: 0, template: { metadata: { labels: { app: 'once' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'task', image: TestAppImage, imagePullPolicy: 'Never', args: ['connect', ipv4Of(peer), '8080'] }] } } },
    });
    await waitUntil('the Job to complete', 120_000, () => {
      const job = JSON.parse(cluster.kubectlOk(['get', 'job', 'once', '-n', 'shop', '-o', 'json'])) as { status: { succeeded?: number; failed?: number } };
      if (job.status.failed) throw new Error('the Job failed');
      return job.status.succeeded === 1 || undefined;
    }, 1_000);
    const [done] = pods(cluster, 'shop', 'app=once');
    expect(done?.phase).toBe('Succeeded');
    expect(done?.spec.initContainers?.map((c) => c.name)).toEqual(['proxy-init', 'proxy']);
    const log = cluster.kubectlOk(['logs', '-n', 'shop', done?.name ?? '', '-c', 'task']);
    expect(viaProxy(JSON.parse(log.trim().split('\n').pop() ?? '{}') as never)?.listener).toBe('outbound');
  }, 180_000);

  it.each([['native', {}], ['classic', { 'sidecar.istio.io/nativeSidecar': 'false' }]] as const)('%s mode: the pod\'s own init container makes an outbound connection that works', async (mode, annotations) => {
    const name = `fetch-${mode}`;
    applyObject(cluster, appDeployment(name, 'shop', {
      annotations,
      initContainers: [{ name: 'fetch-config', image: TestAppImage, imagePullPolicy: 'Never', command: ['/bin/sh', '-c', `/usr/bin/python3 /usr/local/bin/test-app connect ${ipv4Of(peer)} 8080 | tee /dev/termination-log`] }],
    }));
    const running = await readyPod(cluster, 'shop', `app=${name}`, 180_000);
    const order = running.spec.initContainers?.map((c) => c.name);
    const fetch = running.status.initContainerStatuses?.find((s) => s.name === 'fetch-config');
    expect(fetch?.state.terminated?.exitCode).toBe(0);
    const said = JSON.parse(cluster.kubectlOk(['get', 'pod', running.name, '-n', 'shop', '-o', 'jsonpath={.status.initContainerStatuses[?(@.name=="fetch-config")].state.terminated.message}'])) as never;
    expect(appAnswer(said)?.app).toBe('peer');
    if (mode === 'native') {
      // Capture and the proxy come first, so the init container's connection is already carried by it.
      expect(order).toEqual(['proxy-init', 'proxy', 'fetch-config']);
      expect(viaProxy(said)?.listener).toBe('outbound');
    } else {
      // Classic: capture is set up last, so the init container ran before it, directly.
      expect(order).toEqual(['fetch-config', 'proxy-init']);
      expect(running.spec.containers.map((c) => c.name)).toContain('proxy');
      expect(viaProxy(said)).toBeUndefined();
      expect(viaProxy(connectFrom(cluster, 'shop', running.name, 'app', ipv4Of(peer), 8080))?.listener).toBe('outbound');
    }
  }, 240_000);
});

describe('restarts', () => {
  let web: PodInfo;
  beforeAll(async () => {
    applyObject(cluster, appDeployment('restarts', 'shop'));
    web = await readyPod(cluster, 'shop', 'app=restarts');
  }, 180_000);

  const captured = (p: PodInfo) => viaProxy(connectFrom(cluster, 'shop', p.name, 'app', ipv4Of(peer), 8080))?.listener;

  it('killing the app container: the kubelet restarts it and capture holds', async () => {
    expect(captured(web)).toBe('outbound');
    const appId = web.status.containerStatuses?.find((s) => s.name === 'app')?.containerID?.replace('containerd://', '') ?? '';
    expect(node.ctr(['tasks', 'kill', '--signal', 'SIGKILL', appId]).status).toBe(0);
    const restarted = await waitUntil('the app container to restart', 120_000, () => {
      const now = pod(cluster, 'shop', web.name);
      const app = now.status.containerStatuses?.find((s) => s.name === 'app');
      return app && app.restartCount >= 1 && app.ready ? now : undefined;
    }, 500);
    // The sandbox (and so the rules) stayed: proxy-init did not run again.
    expect(restarted.status.initContainerStatuses?.find((s) => s.name === 'proxy-init')?.restartCount).toBe(0);
    expect(captured(restarted)).toBe('outbound');
  }, 180_000);

  it('killing the sandbox: the kubelet makes a new one, proxy-init runs again, capture holds', async () => {
    const before = pod(cluster, 'shop', web.name);
    const pausePids = node.podPids(before.uid).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'pause';
      } catch {
        return false;
      }
    });
    expect(pausePids.length).toBe(1);
    process.kill(pausePids[0] as number, 'SIGKILL');
    const after = await waitUntil('a new sandbox with the pod Ready again', 180_000, () => {
      const now = pod(cluster, 'shop', web.name);
      const proxyInit = now.status.initContainerStatuses?.find((s) => s.name === 'proxy-init');
      const ready = now.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return ready && (proxyInit?.restartCount ?? 0) >= 1 ? now : undefined;
    }, 1_000);
    expect(captured(after)).toBe('outbound');
  }, 240_000);
});

describe('upgrade: the injector rolled to a new configuration while pods are created', () => {
  it('admits every pod during the rollout; new pods get the new capture, old pods keep theirs', async () => {
    applyObject(cluster, appDeployment('old-config', 'shop'));
    const old = await readyPod(cluster, 'shop', 'app=old-config');
    const oldArgs = old.spec.initContainers?.find((c) => c.name === 'proxy-init')?.args ?? [];
    expect(viaProxy(connectFrom(cluster, 'shop', old.name, 'app', ipv4Of(peer), 8080))?.listener).toBe('outbound');

    // The new configuration: outbound port 8080 is excluded mesh-wide (Istio's global.proxy.excludeOutboundPorts).
    const configMap = JSON.parse(cluster.kubectlOk(['get', 'configmap', 'outrigger-injector', '-n', 'outrigger', '-o', 'json'])) as { data: Record<string, string> };
    const config = parseYaml(configMap.data['config.yaml'] ?? '') as Record<string, unknown>;
    config.capture = { ...(config.capture as object | undefined), outboundPortsExclude: '8080' };
    cluster.kubectlOk(['patch', 'configmap', 'outrigger-injector', '-n', 'outrigger', '--type=merge', '-p', JSON.stringify({ data: { 'config.yaml': stringify(config) } })]);
    const replicasBefore = pods(cluster, 'outrigger', 'app.kubernetes.io/name=outrigger-injector').map((p) => p.name);
    cluster.kubectlOk(['rollout', 'restart', 'deployment/outrigger-injector', '-n', 'outrigger']);

    // A bounded stream of pod creates while the Deployment rolls (at most 200 pods or 240 s); the pods
    // cannot be scheduled (a node selector no node has), so only admission is exercised. The rollout is
    // over when only new replicas exist: old ones keep serving (with their configuration) while they drain.
    const api = clusterApi(cluster, { maxSockets: 2 });
    const created: { name: string; status: number; afterRollout: boolean; excluded?: boolean; message?: string }[] = [];
    const rolledOut = () => {
      const now = pods(cluster, 'outrigger', 'app.kubernetes.io/name=outrigger-injector');
      return now.length === 2 && now.every((p) => !replicasBefore.includes(p.name) && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    };
    const deadline = Date.now() + 240_000;
    let afterRollout = 0;
    for (let i = 0; i < 200 && Date.now() < deadline && afterRollout < 5; i++) {
      const done = rolledOut();
      if (done) afterRollout++;
      const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `during-${i}`, labels: { app: 'during' } }, spec: { nodeSelector: { 'outrigger.test/none': 'none' }, containers: [{ name: 'app', image: TestAppImage, imagePullPolicy: 'Never' }] } };
      const res = await api.post('/api/v1/namespaces/shop/pods', body);
      const stored = JSON.parse(res.body) as { spec?: { initContainers?: { name: string; args?: string[] }[] }; message?: string };
      const args = stored.spec?.initContainers?.find((c) => c.name === 'proxy-init')?.args;
      created.push({ name: body.metadata.name, status: res.status, afterRollout: done, ...(args ? { excluded: args.join(' ').includes('-o 8080') } : {}), ...(stored.message ? { message: stored.message } : {}) });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    api.close();
    expect(afterRollout, 'the rollout did not finish within the stream').toBe(5);
    expect(created.length).toBeGreaterThan(10);
    expect(created.filter((c) => c.status !== 201 || c.excluded === undefined), JSON.stringify(created.slice(0, 3))).toEqual([]);
    // Replicas also reload the mounted ConfigMap, so the setting may reach pods before the rollout ends;
    // once only new replicas serve, every pod has it.
    expect(created.filter((c) => c.afterRollout).every((c) => c.excluded), JSON.stringify(created.map((c) => [c.afterRollout, c.excluded]))).toBe(true);
    cluster.kubectlOk(['delete', 'pods', '-n', 'shop', '-l', 'app=during', '--wait=false']);

    // A new pod runs with the new capture: its outbound 8080 goes direct. The old pod is unchanged.
    applyObject(cluster, appDeployment('new-config', 'shop'));
    const fresh = await readyPod(cluster, 'shop', 'app=new-config');
    expect(fresh.spec.initContainers?.find((c) => c.name === 'proxy-init')?.args?.join(' ')).toContain('-o 8080');
    expect(viaProxy(connectFrom(cluster, 'shop', fresh.name, 'app', ipv4Of(peer), 8080))).toBeUndefined();
    expect(pod(cluster, 'shop', old.name).spec.initContainers?.find((c) => c.name === 'proxy-init')?.args).toEqual(oldArgs);
    expect(viaProxy(connectFrom(cluster, 'shop', old.name, 'app', ipv4Of(peer), 8080))?.listener).toBe('outbound');
  }, 420_000);
});
