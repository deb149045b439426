// Benchmark: pod creates per second and the latency a pod create sees through a real kube-apiserver
// (v1.34.4, cluster/cluster.ts; no node, so pods stay Pending) in four arms, side by side in one run:
//   plain      an unlabelled namespace: no webhook is called (the API server's own floor)
//   null-hook  a namespace whose pods go through a webhook that answers allowed:true without looking
//              (bench/null-admission-server.mjs, same fastify/TLS settings): the cost of any webhook call
//   meshed-1   a labelled namespace, outrigger's injector with 1 replica
//   meshed-2   the same with 2 replicas
// Each arm creates PODS pods with CONCURRENCY creates in flight (keep-alive HTTPS with the admin
// certificate), in a fresh namespace per arm and round; arms alternate over ROUNDS rounds.
// The injector runs as local processes in the cluster's namespace (test/helpers/cluster-outrigger.ts).
// Usage (root; after npm run build): node bench/cluster-admission-bench.ts [PODS=1500] [CONCURRENCY=16] [ROUNDS=2] [MAX_CONNECTION_AGE=30s]
// (the injector's --max-connection-age: how soon the API server's pooled connections move to a replica
// added before an arm; a short one shows the spread within an arm's few seconds)
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { waitUntil } from '../cluster/wait-until.ts';
import { clusterApi } from '../test/helpers/cluster-api.ts';
import { applyOverlay, createNamespace, type LocalInjectors, startLocalInjectors, waitForWebhook } from '../test/helpers/cluster-outrigger.ts';

const pods = Number(process.argv[2] ?? 1500);
const concurrency = Number(process.argv[3] ?? 16);
const rounds = Number(process.argv[4] ?? 2);
const maxConnectionAge = process.argv[5] ?? '30s';

type Arm = 'plain' | 'null-hook' | 'meshed-1' | 'meshed-2';
interface Result { arm: Arm; round: number; seconds: number; perSecond: number; p50: number; p90: number; p99: number; failed: number; injected: number; cpu: Record<string, number> }

const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'bench' } }, spec: { containers: [{ name: 'app', image: 'outrigger/test-app:0.1.0', ports: [{ containerPort: 8080 }] }] } });
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

/** user+system CPU seconds of a process (and its threads). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function startNullHook(cluster: Cluster): Promise<void> {
  const cert = cluster.pki.issue({ name: 'null-hook', commonName: 'null-hook', usage: 'server', ipAddresses: ['127.0.0.1'] });
  const port = 9555;
  cluster.startProcess({ name: 'null-hook', command: process.execPath, args: [resolve('bench/null-admission-server.mjs'), String(port), cert.certFile, cert.keyFile] });
  await waitUntil('the null webhook', 20_000, () => /listening/.test(cluster.logOf('null-hook')) || undefined, 200);
  cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'bench-null-hook' },
    webhooks: [{ name: 'null.bench.test', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 10,
      clientConfig: { url: `https://127.0.0.1:${port}/inject`, caBundle: readFileSync(cluster.pki.caCertFile).toString('base64') },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
      namespaceSelector: { matchLabels: { 'bench-null-hook': 'enabled' } } }],
  }) });
}

async function createPods(cluster: Cluster, namespace: string, arm: Arm, round: number, watched: Record<string, number>, count = pods): Promise<Result> {
  const api = clusterApi(cluster, { maxSockets: concurrency });
  const latencies: number[] = [];
  let failed = 0;
  let injected = 0;
  let next = 0;
  const cpuBefore = Object.fromEntries(Object.entries(watched).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < count) {
      const name = `p-${next++}`;
      const t0 = process.hrtime.bigint();
      try {
        const res = await api.post(`/api/v1/namespaces/${namespace}/pods`, pod(name));
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (res.status !== 201) failed++;
        else if (res.body.includes('"name":"proxy"')) injected++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  api.close();
  const cpu = Object.fromEntries(Object.entries(watched).map(([name, pid]) => [name, (cpuSeconds(pid) - (cpuBefore[name] ?? 0)) / count * 1e6]));
  latencies.sort((a, b) => a - b);
  return { arm, round, seconds, perSecond: count / seconds, p50: percentile(latencies, 0.5), p90: percentile(latencies, 0.9), p99: percentile(latencies, 0.99), failed, injected, cpu };
}

const cluster = await startCluster({ timeoutMs: 180_000 });
let injectors: LocalInjectors | undefined;
try {
  console.error(`cluster ${cluster.id} up; ${cpus().length} x ${cpus()[0]?.model}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  applyOverlay(cluster, 'default');
  injectors = await startLocalInjectors(cluster, { replicas: 2, extraArgs: [`--max-connection-age=${maxConnectionAge}`] });
  await createNamespace(cluster, 'warmup');
  await waitForWebhook(cluster, 'warmup');
  await startNullHook(cluster);
  const components = (JSON.parse(readFileSync(`${cluster.dir}/state.json`, 'utf8')) as { components: { name: string; pid: number }[] }).components;
  const pidOf = (name: string) => components.find((c) => c.name === name)?.pid ?? 0;
  const apiServerPid = pidOf('kube-apiserver');
  const etcdPid = pidOf('etcd');
  const results: Result[] = [];
  // Warm-up: 200 pods through the injector, discarded.
  await createPods(cluster, 'warmup', 'meshed-2', 0, {}, 200);
  for (let round = 1; round <= rounds; round++) {
    for (const arm of ['plain', 'null-hook', 'meshed-1', 'meshed-2'] as Arm[]) {
      const namespace = `${arm}-r${round}`;
      const labels: Record<string, string> = arm === 'plain' ? {} : arm === 'null-hook' ? { 'bench-null-hook': 'enabled' } : { 'istio-injection': 'enabled' };
      await createNamespace(cluster, namespace, labels);
      const want = arm === 'meshed-1' ? 1 : 2;
      while (injectors.replicas.length > want) await injectors.remove(injectors.replicas[injectors.replicas.length - 1]!);
      while (injectors.replicas.length < want) await injectors.add();
      await new Promise((r) => setTimeout(r, 1_000));
      const watched: Record<string, number> = { 'kube-apiserver': apiServerPid, etcd: etcdPid };
      injectors.replicas.forEach((r, i) => { watched[`injector-${i}`] = r.process.pid; });
      const result = await createPods(cluster, namespace, arm, round, watched);
      results.push(result);
      console.error(`${arm} round ${round}: ${result.perSecond.toFixed(0)} pods/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, failed ${result.failed}, injected ${result.injected}`);
    }
  }
  console.log(`\n${pods} pods per arm and round, ${concurrency} creates in flight, ${rounds} rounds, --max-connection-age=${maxConnectionAge}; load at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('| arm | round | pods/s | p50 ms | p90 ms | p99 ms | failed | injected | API server CPU µs/pod | etcd CPU µs/pod | injector CPU µs/pod (per replica) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const injectorCpu = Object.entries(r.cpu).filter(([k]) => k.startsWith('injector')).map(([, v]) => v.toFixed(0)).join(' + ') || '-';
    console.log(`| ${r.arm} | ${r.round} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p90.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.failed} | ${r.injected} | ${(r.cpu['kube-apiserver'] ?? NaN).toFixed(0)} | ${(r.cpu.etcd ?? NaN).toFixed(0)} | ${injectorCpu} |`);
  }
} finally {
  await cluster.stop();
}
