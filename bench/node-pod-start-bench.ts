// Benchmark: pod start to Ready on the test cluster's real node (kubelet v1.34.4, containerd 1.6, runc;
// cluster/cluster-node.ts), for the same pod uninjected and injected, in classic mode (proxy-init +
// native sidecar proxy) and in CNI mode (outrigger-cni chained after bridge + portmap, proxy-validation),
// arms alternating in each round. Pod start to Ready: from the create request's answer to the first poll
// (every 50 ms) that sees the Ready condition. CNI ADD as containerd runs it: containerd's own latency
// metric for the CRI's network setup (containerd_cri_network_plugin_operations_duration_seconds,
// set_up_pod), its mean over each arm's pods: the chain bridge + portmap (the floor: what every pod
// pays) against bridge + portmap + outrigger-cni.
// The proxy is the stand-in proxy (Envoy cannot be pulled here), which starts faster than Envoy would.
// Usage (root; after npm run build): node bench/node-pod-start-bench.ts [ROUNDS=7]
import { cpus, loadavg } from 'node:os';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { startNode } from '../cluster/cluster-node.ts';
import { ContainerdMetricsPort } from '../cluster/node-specs.ts';
import { run } from '../cluster/run-command.ts';
import { waitUntil } from '../cluster/wait-until.ts';
import { clusterApi, type ClusterApi } from '../test/helpers/cluster-api.ts';
import { installShipped, TestAppImage } from '../test/helpers/node-outrigger.ts';

const rounds = Number(process.argv[2] ?? 7);
type Arm = 'plain (classic install)' | 'injected, classic' | 'plain (CNI install)' | 'injected, CNI mode';
const samples = new Map<Arm, number[]>();
const setups = new Map<Arm, { sum: number; count: number }>();

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

/** containerd's cumulative CNI setup latency (sum seconds, count). */
function networkSetup(cluster: Cluster): { sum: number; count: number } {
  const text = run('nsenter', [`--net=${cluster.netnsPath}`, '--', 'curl', '-fsS', '--max-time', '3', `http://127.0.0.1:${ContainerdMetricsPort}/v1/metrics`]).stdout;
  const pick = (suffix: string) => Number(new RegExp(`^containerd_cri_network_plugin_operations_duration_seconds_seconds_${suffix}\\{[^}]*operation_type="set_up_pod"[^}]*\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { sum: pick('sum'), count: pick('count') };
}

async function startOnce(api: ClusterApi, namespace: string, name: string): Promise<number> {
  const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: TestAppImage, imagePullPolicy: 'Never', args: ['serve', '--name', name, '--port', '8080'], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }] } };
  const created = await api.post(`/api/v1/namespaces/${namespace}/pods`, body);
  if (created.status !== 201) throw new Error(`create ${namespace}/${name}: HTTP ${created.status} ${created.body.slice(0, 300)}`);
  const t0 = process.hrtime.bigint();
  const ms = await waitUntil(`${namespace}/${name} Ready`, 120_000, async () => {
    const res = await api.get(`/api/v1/namespaces/${namespace}/pods/${name}`);
    const pod = JSON.parse(res.body) as { status?: { conditions?: { type: string; status: string }[] } };
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    return ready ? Number(process.hrtime.bigint() - t0) / 1e6 : undefined;
  }, 50);
  await api.delete(`/api/v1/namespaces/${namespace}/pods/${name}?gracePeriodSeconds=0`);
  await waitUntil(`${namespace}/${name} gone`, 120_000, async () => (await api.get(`/api/v1/namespaces/${namespace}/pods/${name}`)).status === 404 || undefined, 200);
  return ms;
}

async function measure(cluster: Cluster, api: ClusterApi, arm: Arm, namespace: string, round: number): Promise<void> {
  const before = networkSetup(cluster);
  const ms = await startOnce(api, namespace, `p-${round}`);
  const after = networkSetup(cluster);
  samples.set(arm, [...(samples.get(arm) ?? []), ms]);
  const acc = setups.get(arm) ?? { sum: 0, count: 0 };
  setups.set(arm, { sum: acc.sum + (after.sum - before.sum), count: acc.count + (after.count - before.count) });
  console.error(`${arm} round ${round}: ${ms.toFixed(0)} ms`);
}

const cluster = await startCluster({ timeoutMs: 180_000 });
try {
  await startNode(cluster);
  console.error(`cluster ${cluster.id} with a node; ${cpus().length} x ${cpus()[0]?.model}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const api = clusterApi(cluster, { maxSockets: 4 });
  await installShipped(cluster, 'default');
  for (const [ns, labelled] of [['plain', false], ['meshed', true], ['plain-cni', false], ['meshed-cni', true]] as const) {
    cluster.kubectlOk(['create', 'namespace', ns]);
    if (labelled) cluster.kubectlOk(['label', 'namespace', ns, 'istio-injection=enabled']);
  }
  await waitUntil('default service accounts', 30_000, () => ['plain', 'meshed', 'plain-cni', 'meshed-cni'].every((ns) => cluster.kubectl(['get', 'sa', 'default', '-n', ns]).status === 0) || undefined, 200);
  // Warm-up (image layers in the page cache, the injector's first admissions), discarded.
  await startOnce(api, 'plain', 'warm');
  await startOnce(api, 'meshed', 'warm');
  for (let round = 1; round <= rounds; round++) {
    await measure(cluster, api, 'plain (classic install)', 'plain', round);
    await measure(cluster, api, 'injected, classic', 'meshed', round);
  }
  await installShipped(cluster, 'cni');
  cluster.kubectlOk(['rollout', 'status', 'daemonset/outrigger-cni', '-n', 'outrigger', '--timeout=180s'], { timeoutMs: 200_000 });
  await startOnce(api, 'meshed-cni', 'warm');
  for (let round = 1; round <= rounds; round++) {
    await measure(cluster, api, 'plain (CNI install)', 'plain-cni', round);
    await measure(cluster, api, 'injected, CNI mode', 'meshed-cni', round);
  }
  api.close();
  console.log(`\n${rounds} rounds per arm, arms alternating; load at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('| pod | start to Ready, median ms | min | max | CNI chain | containerd CNI setup, mean ms |');
  console.log('|---|---|---|---|---|---|');
  for (const [arm, values] of samples) {
    const setup = setups.get(arm);
    const chain = arm.includes('CNI') ? 'bridge + portmap + outrigger-cni' : 'bridge + portmap';
    console.log(`| ${arm} | ${median(values).toFixed(0)} | ${Math.min(...values).toFixed(0)} | ${Math.max(...values).toFixed(0)} | ${chain} | ${setup && setup.count > 0 ? ((setup.sum / setup.count) * 1000).toFixed(1) : 'n/a'} |`);
  }
} finally {
  await cluster.stop();
}
