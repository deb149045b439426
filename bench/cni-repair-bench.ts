// Benchmark: the CNI installer's repair loop as an informer (this tree's dist/) against the poll it
// replaced (the same installer built from git BASELINE_REF, default 25bfe7e: one list of the node's pods
// every --repair-interval), side by side against a real kube-apiserver v1.34.4 (cluster/cluster.ts) with
// NODE_PODS pods on the node (each about the size of an injected pod, ~7 KB as the API server lists it,
// managedFields included). Both arms run the real `outrigger cni install` with the DaemonSet's defaults (delete mode,
// --repair-interval 10s) as the shipped outrigger-cni ServiceAccount, in the cluster's network
// namespace; arms alternate over ROUNDS rounds. Per arm and round:
//   start     spawn to the first list request in the API server's audit log, and to the first repair
//             (a pod that escaped capture before the start: its delete logged by the installer)
//   memory    VmRSS after WINDOW_S seconds at steady state, and the peak (VmHWM)
//   API load  the installer's requests per minute in that window (audit log, by verb), the bytes the
//             API server serialised for them (a list's size, measured once, times the lists; a watch
//             of a quiet node carries none), the CPU seconds of kube-apiserver and of the installer
//   reaction  REACTIONS times: a pod's proxy-validation fails (status written as the kubelet would),
//             time until the installer logs its delete
// Usage (root; after npm run build): node bench/cni-repair-bench.ts [NODE_PODS=100] [ROUNDS=2] [WINDOW_S=60] [REACTIONS=5] [BASELINE_REF=25bfe7e]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startCluster, type Cluster } from '../cluster/cluster.ts';
import { waitUntil } from '../cluster/wait-until.ts';
import { clusterApi } from '../test/helpers/cluster-api.ts';

const nodePods = Number(process.argv[2] ?? 100);
const rounds = Number(process.argv[3] ?? 2);
const windowS = Number(process.argv[4] ?? 60);
const reactions = Number(process.argv[5] ?? 5);
const baselineRef = process.argv[6] ?? '25bfe7e';
const ns = 'bench';
const node = 'node-a';
const cniUser = 'system:serviceaccount:outrigger:outrigger-cni';

type Arm = 'poll' | 'informer';
interface Result {
  arm: Arm; round: number; firstListMs: number; firstRepairMs: number; rssMiB: number; peakMiB: number;
  perMinute: Record<string, number>; bytesPerMinute: number; apiServerCpuS: number; installerCpuS: number; reactionMs: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** The baseline's CLI, built from git (no worktree: an archive of the commit, this tree's node_modules). */
function buildBaseline(): { cli: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'or-repair-baseline-'));
  const archive = spawnSync('sh', ['-c', `git archive ${baselineRef} | tar -x -C ${dir}`], { stdio: 'inherit' });
  if (archive.status !== 0) throw new Error(`cannot extract ${baselineRef}`);
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'));
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: 'inherit' });
  if (build.status !== 0) throw new Error(`cannot build ${baselineRef}`);
  return { cli: join(dir, 'dist', 'outrigger.mjs'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A pod about the size of an injected one (proxy sidecar, validation, app with env), bound to the node. */
function benchPod(name: string) {
  const env = Array.from({ length: 20 }, (_, i) => ({ name: `SETTING_${i}`, value: `value-${i}-${'x'.repeat(24)}` }));
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name, labels: { app: name.replace(/-\d+$/, ''), 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': 'bench' },
      annotations: {
        'outrigger.dev/capture-settings': JSON.stringify({ v: 1, proxyUid: 1337, proxyGid: 1337, outboundPort: 15001, inboundPort: 15006, includeOutbound: ['*'], excludeInbound: [15090, 15021, 15020] }),
        'sidecar.istio.io/status': JSON.stringify({ initContainers: ['proxy-validation'], containers: ['proxy'], volumes: ['outrigger-envoy', 'outrigger-data', 'outrigger-token'], imagePullSecrets: null }),
      },
    },
    spec: {
      nodeName: node, tolerations: [{ operator: 'Exists' }],
      initContainers: [{ name: 'proxy-validation', image: 'outrigger/outrigger:0.1.0', args: ['validate', '--timeout', '10s'], securityContext: { runAsUser: 1337, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
      containers: [
        { name: 'app', image: 'outrigger/test-app:0.1.0', ports: [{ containerPort: 8080 }], env },
        { name: 'proxy', image: 'outrigger/stand-in-proxy:0.1.0', args: ['proxy', 'sidecar', '--domain', 'bench.svc.cluster.local', '--concurrency', '2'], ports: [{ containerPort: 15090, name: 'http-envoy-prom' }], readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 } }, resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } } },
      ],
    },
  };
}

/** PATCH with the admin certificate (merge patch), or GET; resolves status and body. */
function adminCall(cluster: Cluster, method: 'PATCH' | 'GET', path: string, body?: unknown): Promise<{ status: number; body: string }> {
  const pki = (f: string) => readFileSync(join(cluster.pki.dir, f));
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = request(`${cluster.apiServerUrl}${path}`, {
      method, ca: pki('ca.crt'), cert: pki('admin.crt'), key: pki('admin.key'), timeout: 10_000,
      headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/merge-patch+json', 'content-length': Buffer.byteLength(payload) } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function failValidation(cluster: Cluster, name: string): Promise<void> {
  const status = { initContainerStatuses: [{ name: 'proxy-validation', image: 'outrigger/outrigger:0.1.0', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 126, reason: 'Error' } } }] };
  const res = await adminCall(cluster, 'PATCH', `/api/v1/namespaces/${ns}/pods/${name}/status`, { status });
  if (res.status !== 200) throw new Error(`status patch of ${name}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
}

type AuditEvent = { verb: string; stage: string; user: { username: string }; requestReceivedTimestamp: string };
/** The installer's requests, once each (a watch is audited when it starts and again when it ends). */
function cniAudit(cluster: Cluster): AuditEvent[] {
  return readFileSync(cluster.auditLogFile, 'utf8').split('\n').filter((l) => l.includes(cniUser)).map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.user.username === cniUser && e.stage === (e.verb === 'watch' ? 'ResponseStarted' : 'ResponseComplete'));
}

interface Installer { child: ChildProcess; logs: { time: number; msg: string; pod?: string }[]; exited: Promise<number | null> }
function startInstaller(cluster: Cluster, cli: string, dir: string, token: string): Installer {
  for (const sub of ['bin', 'net.d', 'sa']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'sa', 'token'), token);
  writeFileSync(join(dir, 'sa', 'ca.crt'), readFileSync(cluster.pki.caCertFile));
  writeFileSync(join(dir, 'net.d', '10-flannel.conflist'), readFileSync('test/fixtures/cni-configs/10-flannel.conflist'));
  writeFileSync(join(dir, 'plugin'), 'plugin stand-in bytes\n');
  const child = spawn('nsenter', [`--net=${cluster.netnsPath}`, '--', process.execPath, cli, 'cni', 'install',
    '--cni-bin-dir', join(dir, 'bin'), '--cni-conf-dir', join(dir, 'net.d'), '--plugin-binary', join(dir, 'plugin'),
    '--token-file', join(dir, 'sa', 'token'), '--ca-file', join(dir, 'sa', 'ca.crt'), '--namespace-file', join(dir, 'sa', 'namespace'),
    '--metrics-port', '0', '--exclude-namespaces=kube-system,outrigger', '--repair-mode=delete'], {
    env: { PATH: process.env.PATH, KUBERNETES_SERVICE_HOST: cluster.clusterIp, KUBERNETES_SERVICE_PORT: '6443', NODE_NAME: node },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs: Installer['logs'] = [];
  let partial = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        const parsed = JSON.parse(line) as { time: string; msg: string; pod?: string };
        logs.push({ time: Date.parse(parsed.time), msg: parsed.msg, ...(parsed.pod ? { pod: parsed.pod } : {}) });
      } catch {
        // not a log line (a Node warning)
      }
    }
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, logs, exited };
}

const deletedAt = (installer: Installer, pod: string) => installer.logs.find((l) => l.msg.startsWith('deleted a pod') && l.pod === `${ns}/${pod}`)?.time;

async function runArm(cluster: Cluster, arm: Arm, round: number, cli: string, apiServerPid: number, listBytes: number): Promise<Result> {
  const tag = `${arm}-r${round}`;
  const api = clusterApi(cluster);
  for (const name of [`escaped-${tag}`, ...Array.from({ length: reactions }, (_, i) => `react-${tag}-${i}`)]) {
    const res = await api.post(`/api/v1/namespaces/${ns}/pods`, benchPod(name));
    if (res.status !== 201) throw new Error(`create ${name}: HTTP ${res.status}`);
  }
  api.close();
  await failValidation(cluster, `escaped-${tag}`);
  const token = cluster.kubectlOk(['create', 'token', 'outrigger-cni', '-n', 'outrigger', '--duration=3600s']).trim();
  const dir = mkdtempSync(join(tmpdir(), `or-repair-${tag}-`));
  const started = Date.now();
  const installer = startInstaller(cluster, cli, dir, token);
  try {
    const firstRepair = await waitUntil(`${tag}: the first repair`, 60_000, () => deletedAt(installer, `escaped-${tag}`), 20);
    const firstList = cniAudit(cluster).find((e) => e.verb === 'list' && Date.parse(e.requestReceivedTimestamp) >= started);
    await sleep(Math.max(0, started + 15_000 - Date.now())); // past start-up
    const from = Date.now();
    const cpuBefore = { api: cpuSeconds(apiServerPid), installer: cpuSeconds(installer.child.pid ?? 0) };
    await sleep(windowS * 1_000);
    const minutes = (Date.now() - from) / 60_000;
    const cpuAfter = { api: cpuSeconds(apiServerPid), installer: cpuSeconds(installer.child.pid ?? 0) };
    const memory = memoryMiB(installer.child.pid ?? 0);
    const inWindow = cniAudit(cluster).filter((e) => Date.parse(e.requestReceivedTimestamp) >= from && Date.parse(e.requestReceivedTimestamp) < from + windowS * 1_000);
    const perMinute: Record<string, number> = {};
    for (const e of inWindow) perMinute[e.verb] = (perMinute[e.verb] ?? 0) + 1 / minutes;
    const reactionMs: number[] = [];
    for (let i = 0; i < reactions; i++) {
      await sleep(500 + Math.random() * 3_000); // unaligned with the poll's phase
      const pod = `react-${tag}-${i}`;
      const t = Date.now();
      await failValidation(cluster, pod);
      reactionMs.push((await waitUntil(`${tag}: the delete of ${pod}`, 30_000, () => deletedAt(installer, pod), 20)) - t);
    }
    return {
      arm, round, firstListMs: firstList ? Date.parse(firstList.requestReceivedTimestamp) - started : NaN, firstRepairMs: firstRepair - started,
      rssMiB: memory.rss, peakMiB: memory.peak, perMinute, bytesPerMinute: (perMinute.list ?? 0) * listBytes,
      apiServerCpuS: cpuAfter.api - cpuBefore.api, installerCpuS: cpuAfter.installer - cpuBefore.installer, reactionMs,
    };
  } finally {
    installer.child.kill('SIGTERM');
    const code = await Promise.race([installer.exited, sleep(15_000).then(() => 'timeout')]);
    if (code !== 0) console.error(`${tag}: the installer exited ${String(code)}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

const baseline = buildBaseline();
const cluster = await startCluster({ timeoutMs: 180_000 });
try {
  console.error(`cluster ${cluster.id} up; ${cpus().length} x ${cpus()[0]?.model}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  cluster.kubectlOk(['apply', '-k', 'manifests/overlays/cni']); // RBAC: get, list, watch, delete (the poll needs fewer)
  cluster.kubectlOk(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: node }, spec: { unschedulable: true } }) });
  cluster.kubectlOk(['create', 'namespace', ns]);
  await waitUntil('the default ServiceAccount', 30_000, () => cluster.kubectl(['get', 'serviceaccount', 'default', '-n', ns]).status === 0 || undefined, 200);
  const api = clusterApi(cluster, { maxSockets: 8 });
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    for (let i = w; i < nodePods; i += 8) {
      const res = await api.post(`/api/v1/namespaces/${ns}/pods`, benchPod(`resident-${i}`));
      if (res.status !== 201) throw new Error(`create resident-${i}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    }
  }));
  api.close();
  const list = await adminCall(cluster, 'GET', `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}&resourceVersion=0`);
  const listBytes = Buffer.byteLength(list.body);
  const components = (JSON.parse(readFileSync(`${cluster.dir}/state.json`, 'utf8')) as { components: { name: string; pid: number }[] }).components;
  const apiServerPid = components.find((c) => c.name === 'kube-apiserver')?.pid ?? 0;
  const results: Result[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const arm of ['poll', 'informer'] as Arm[]) {
      const result = await runArm(cluster, arm, round, arm === 'poll' ? baseline.cli : resolve('dist/outrigger.mjs'), apiServerPid, listBytes);
      results.push(result);
      console.error(`${arm} round ${round}: ${JSON.stringify(result)}`);
    }
  }
  console.log(`\n${nodePods} resident pods on the node (+${1 + reactions} per arm and round), the node's list is ${(listBytes / 1024).toFixed(0)} KiB; window ${windowS} s; ${rounds} rounds; baseline ${baselineRef}; load at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('| arm | round | spawn to first list ms | spawn to first repair ms | RSS MiB | peak RSS MiB | requests/min (by verb) | list bytes/min | kube-apiserver CPU s/min | installer CPU s/min | reaction ms (median, max) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const perMin = (s: number) => (s / (windowS / 60)).toFixed(2);
  for (const r of results) {
    const verbs = Object.entries(r.perMinute).map(([verb, n]) => `${verb} ${n.toFixed(1)}`).join(', ') || 'none';
    console.log(`| ${r.arm} | ${r.round} | ${r.firstListMs.toFixed(0)} | ${r.firstRepairMs.toFixed(0)} | ${r.rssMiB.toFixed(1)} | ${r.peakMiB.toFixed(1)} | ${verbs} | ${(r.bytesPerMinute / 1024).toFixed(0)} KiB | ${perMin(r.apiServerCpuS)} | ${perMin(r.installerCpuS)} | ${median(r.reactionMs).toFixed(0)}, ${Math.max(...r.reactionMs).toFixed(0)} |`);
  }
} finally {
  await cluster.stop();
  baseline.remove();
}
