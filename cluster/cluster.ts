/**
 * A real Kubernetes control plane for tests and developers: etcd -> kube-apiserver ->
 * kube-controller-manager -> kube-scheduler, built from Go modules (cluster/build), each a plain
 * process in the cluster's own network namespace (cluster-network.ts), with its own CA, RBAC, the
 * production admission plugins and an audit log. startCluster() waits for each component with a
 * bounded timeout and always cleans up what it made when a step fails; stop() tears everything down.
 * Clusters whose owner died are removed by the next start (cluster-state.ts). Each cluster's folder is
 * /run/outrigger-cluster/ID (on this machine kind /run is on the root disk, not tmpfs).
 *
 * The host reaches the API server at https://CLUSTER_IP:6443 over the cluster's veth link; kubectl
 * and @kubernetes/client-node use the admin kubeconfig. restartComponent() stops one component and
 * starts it again with the same command line, waiting for its readiness as at start (tests of
 * clients that must survive an API server restart). Limits: root only; one node-less control plane
 * here (cluster-node.ts adds a node); the binaries must have been built (scripts/setup-host.sh).
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { findBinaries } from './cluster-binaries.ts';
import { ClusterCidrs, ClusterDomain, ClusterPorts, ClustersRoot } from './cluster-layout.ts';
import { createClusterNetwork } from './cluster-network.ts';
import { ClusterPki, clientKubeconfig } from './cluster-pki.ts';
import { killNow, ownerOfThisProcess, readState, removeOrphanedClusters, tearDown, writeState, type ClusterState } from './cluster-state.ts';
import { logTail, startComponent, stopComponent, type ComponentSpec, type RunningComponent } from './component-process.ts';
import { apiServerSpec, AuditPolicy, controllerManagerSpec, etcdSpec, schedulerSpec, type ControlPlaneFiles } from './control-plane-specs.ts';
import { run, runOk, type CommandResult } from './run-command.ts';
import { waitUntil } from './wait-until.ts';

export interface KubectlOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
  /** Another kubeconfig than the admin's. */
  readonly kubeconfig?: string;
}

export interface Cluster {
  readonly id: string;
  readonly dir: string;
  readonly netns: string;
  readonly netnsPath: string;
  readonly hostIp: string;
  readonly clusterIp: string;
  readonly apiServerUrl: string;
  readonly binDir: string;
  readonly logDir: string;
  readonly auditLogFile: string;
  /** Admin (system:masters) kubeconfig. */
  readonly kubeconfig: string;
  readonly pki: ClusterPki;
  kubectl(args: readonly string[], options?: KubectlOptions): CommandResult;
  /** kubectl that throws with its output unless it exits 0. */
  kubectlOk(args: readonly string[], options?: KubectlOptions): string;
  /** A kubeconfig file with a fresh token of a service account (TokenRequest, like a projected token). */
  serviceAccountKubeconfig(namespace: string, name: string, options?: { readonly durationSeconds?: number; readonly server?: string }): string;
  /** Starts a process in the cluster's namespace, stopped with the cluster. */
  startProcess(spec: ComponentSpec): RunningComponent;
  /** Records a node (its folder and cgroup root) so teardown removes its mount namespace and cgroups. */
  registerNode(node: { readonly name: string; readonly dir: string; readonly cgroupRoot: string }): void;
  stopProcess(component: RunningComponent): Promise<void>;
  /**
   * Stops a component (SIGTERM, as stopProcess), waits `downMs`, starts it again with the same spec
   * and, for etcd and the control plane, waits until it is ready again (etcd /health, kube-apiserver
   * /readyz, the others /healthz). Note that kube-controller-manager and kube-scheduler give up their
   * leader lease and exit when the API server stays away longer than their renew deadline (10 s).
   */
  restartComponent(name: string, options?: { readonly downMs?: number; readonly timeoutMs?: number }): Promise<void>;
  /** The last lines of a component's log. */
  logOf(name: string, lines?: number): string;
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  /** A cluster started by hand stays after this process exits. */
  readonly manual?: boolean;
  /** Overall readiness budget for the control plane. */
  readonly timeoutMs?: number;
}

const live = new Map<string, ClusterState>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const state of live.values()) killNow(state);
  });
}

export function requireClusterHost(): void {
  if (process.getuid?.() !== 0) throw new Error(`the test cluster needs root (network namespaces, etcd and kube-apiserver as processes); running as uid ${process.getuid?.()}`);
  for (const tool of ['ip', 'nsenter', 'openssl', 'curl']) {
    if (run('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`the test cluster needs ${tool} on PATH: run bash scripts/setup-host.sh`);
  }
}

/** GET path on the API server with the admin client certificate; resolves the status and body. */
function apiGet(url: string, pki: ClusterPki, admin: { certFile: string; keyFile: string }, readFile: (f: string) => string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFile(pki.caCertFile), cert: readFile(admin.certFile), key: readFile(admin.keyFile), timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { if (body.length < 65_536) body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** GET on a component's /healthz with no client certificate (an always-allowed path). */
function healthz(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 3_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  requireClusterHost();
  const binDir = findBinaries();
  await removeOrphanedClusters();
  const id = randomBytes(3).toString('hex');
  const dir = join(ClustersRoot, id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const logDir = join(dir, 'logs');
  const dataDir = join(dir, 'data');
  mkdirSync(logDir, { mode: 0o700 });
  mkdirSync(dataDir, { mode: 0o700 });
  const network = createClusterNetwork(id);
  const state: ClusterState = {
    id, dir, netns: network.netns, hostIp: network.hostIp, clusterIp: network.clusterIp, binDir,
    ...(options.manual ? {} : { owner: ownerOfThisProcess() }),
    components: [],
  };
  writeState(state);
  // A test's cluster dies with its process; one started by hand outlives the CLI.
  if (!options.manual) {
    live.set(id, state);
    installExitHook();
  }
  const budget = options.timeoutMs ?? 120_000;
  const started = Date.now();
  const remaining = () => Math.max(5_000, budget - (Date.now() - started));

  try {
    const readFile = (f: string) => readFileSync(f, 'utf8');
    const pki = new ClusterPki(join(dir, 'pki'));
    pki.init();
    const apiServerUrl = `https://${network.clusterIp}:${ClusterPorts.apiServer}`;
    const apiServerCert = pki.issue({
      name: 'kube-apiserver', commonName: 'kube-apiserver', usage: 'server',
      dnsNames: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${ClusterDomain}`, 'localhost'],
      ipAddresses: ['127.0.0.1', network.clusterIp, ClusterCidrs.firstServiceIpV4, ClusterCidrs.firstServiceIpV6],
    });
    const kubeletClientCert = pki.issue({ name: 'kube-apiserver-kubelet-client', commonName: 'kube-apiserver-kubelet-client', usage: 'client' });
    const admin = pki.issue({ name: 'admin', commonName: 'outrigger-test-admin', organizations: ['system:masters'], usage: 'client' });
    const controllerManagerCert = pki.issue({ name: 'kube-controller-manager', commonName: 'system:kube-controller-manager', usage: 'client' });
    const schedulerCert = pki.issue({ name: 'kube-scheduler', commonName: 'system:kube-scheduler', usage: 'client' });
    const kubeconfig = join(dir, 'admin.kubeconfig');
    const controllerManagerKubeconfig = join(dir, 'kube-controller-manager.kubeconfig');
    const schedulerKubeconfig = join(dir, 'kube-scheduler.kubeconfig');
    writeFileSync(kubeconfig, clientKubeconfig(apiServerUrl, pki.caCertFile, admin, 'admin'), { mode: 0o600 });
    writeFileSync(controllerManagerKubeconfig, clientKubeconfig(apiServerUrl, pki.caCertFile, controllerManagerCert, 'system:kube-controller-manager'), { mode: 0o600 });
    writeFileSync(schedulerKubeconfig, clientKubeconfig(apiServerUrl, pki.caCertFile, schedulerCert, 'system:kube-scheduler'), { mode: 0o600 });
    const auditPolicyFile = join(dir, 'audit-policy.yaml');
    writeFileSync(auditPolicyFile, AuditPolicy);
    const files: ControlPlaneFiles = {
      binDir, dataDir, pkiDir: pki.dir, caCertFile: pki.caCertFile, caKeyFile: pki.caKeyFile, apiServerCert, kubeletClientCert,
      serviceAccountKeyFile: pki.serviceAccountKeyFile, serviceAccountPublicKeyFile: pki.serviceAccountPublicKeyFile,
      auditPolicyFile, auditLogFile: join(logDir, 'audit.log'), controllerManagerKubeconfig, schedulerKubeconfig,
    };

    const specs = new Map<string, ComponentSpec>();
    const startProcess = (spec: ComponentSpec): RunningComponent => {
      const component = startComponent(spec, network.netnsPath, logDir);
      specs.set(spec.name, spec);
      state.components.push(component);
      writeState(state);
      return component;
    };
    const failWithLog = (name: string, error: unknown): never => {
      throw new Error(`${name} did not become ready: ${(error as Error).message}\n--- ${name} log (last lines) ---\n${logTail(join(logDir, `${name}.log`))}`);
    };

    // Readiness of each component, at start and after restartComponent().
    const readiness: Readonly<Record<string, (timeoutMs: number) => Promise<unknown>>> = {
      etcd: (timeoutMs) => waitUntil('etcd /health', timeoutMs, () => {
        const health = run('nsenter', [`--net=${network.netnsPath}`, '--', 'curl', '-fsS', '--max-time', '2', `http://127.0.0.1:${ClusterPorts.etcdClient}/health`]);
        if (health.status !== 0) throw new Error(health.stderr.trim() || `curl exited ${health.status}`);
        return /"health":\s*"true"/.test(health.stdout) ? true : undefined;
      }),
      'kube-apiserver': (timeoutMs) => waitUntil('kube-apiserver /readyz', timeoutMs, async () => {
        const { status, body } = await apiGet(`${apiServerUrl}/readyz`, pki, admin, readFile);
        if (status !== 200) throw new Error(`HTTP ${status}: ${body.slice(0, 200)}`);
        return true;
      }, 500),
      'kube-controller-manager': (timeoutMs) => waitUntil('kube-controller-manager /healthz', timeoutMs,
        () => healthz(`https://${network.clusterIp}:${ClusterPorts.controllerManager}/healthz`).then((ok) => ok || undefined)),
      'kube-scheduler': (timeoutMs) => waitUntil('kube-scheduler /healthz', timeoutMs,
        () => healthz(`https://${network.clusterIp}:${ClusterPorts.scheduler}/healthz`).then((ok) => ok || undefined)),
    };
    const waitReady = (name: string, timeoutMs: number) => (readiness[name]?.(timeoutMs) ?? Promise.resolve()).catch((e) => failWithLog(name, e));

    startProcess(etcdSpec(files));
    await waitReady('etcd', remaining());

    startProcess(apiServerSpec(files, network.clusterIp));
    await waitReady('kube-apiserver', remaining());
    // The API server calls kubelets (logs, exec) with this client certificate.
    runOk(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfig, 'create', 'clusterrolebinding', 'kube-apiserver-kubelet-api-admin',
      '--clusterrole=system:kubelet-api-admin', '--user=kube-apiserver-kubelet-client']);

    startProcess(controllerManagerSpec(files));
    startProcess(schedulerSpec(files));
    await waitReady('kube-controller-manager', remaining());
    await waitReady('kube-scheduler', remaining());
    // Controllers at work: the service-account controller and the root CA publisher.
    await waitUntil('the default ServiceAccount and kube-root-ca.crt', remaining(), () => {
      const sa = run(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfig, 'get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name']);
      const ca = run(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfig, 'get', 'configmap', 'kube-root-ca.crt', '-n', 'default', '-o', 'name']);
      if (sa.status !== 0) throw new Error(sa.stderr.trim());
      if (ca.status !== 0) throw new Error(ca.stderr.trim());
      return true;
    }, 500).catch((e) => failWithLog('kube-controller-manager', e));

    const kubectl = (args: readonly string[], kubectlOptions: KubectlOptions = {}): CommandResult =>
      run(join(binDir, 'kubectl'), ['--kubeconfig', kubectlOptions.kubeconfig ?? kubeconfig, ...args], {
        timeoutMs: kubectlOptions.timeoutMs ?? 60_000,
        ...(kubectlOptions.input !== undefined ? { input: kubectlOptions.input } : {}),
      });
    const kubectlOk = (args: readonly string[], kubectlOptions: KubectlOptions = {}): string => {
      const result = kubectl(args, kubectlOptions);
      if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.status}:\n${result.stderr.trim()}\n${result.stdout.trim()}`);
      return result.stdout;
    };
    let tokens = 0;
    const cluster: Cluster = {
      id, dir, netns: network.netns, netnsPath: network.netnsPath, hostIp: network.hostIp, clusterIp: network.clusterIp,
      apiServerUrl, binDir, logDir, auditLogFile: files.auditLogFile, kubeconfig, pki,
      kubectl,
      kubectlOk,
      serviceAccountKubeconfig(namespace, name, saOptions = {}) {
        const token = kubectlOk(['create', 'token', name, '-n', namespace, `--duration=${saOptions.durationSeconds ?? 3600}s`]).trim();
        const file = join(dir, `sa-${namespace}-${name}-${++tokens}.kubeconfig`);
        writeFileSync(file, [
          'apiVersion: v1', 'kind: Config',
          'clusters:', '- name: outrigger-test', '  cluster:', `    server: ${saOptions.server ?? apiServerUrl}`, `    certificate-authority: ${pki.caCertFile}`,
          'users:', `- name: ${namespace}-${name}`, '  user:', `    token: ${token}`,
          'contexts:', '- name: outrigger-test', '  context:', '    cluster: outrigger-test', `    user: ${namespace}-${name}`, `    namespace: ${namespace}`,
          'current-context: outrigger-test', '',
        ].join('\n'), { mode: 0o600 });
        return file;
      },
      startProcess,
      registerNode(node) {
        state.nodes = [...(state.nodes ?? []), node];
        writeState(state);
      },
      async stopProcess(component) {
        await stopComponent(component);
        state.components = state.components.filter((c) => c.pid !== component.pid);
        writeState(state);
      },
      async restartComponent(name, restartOptions = {}) {
        const running = state.components.find((c) => c.name === name);
        const spec = specs.get(name);
        if (!running || !spec) throw new Error(`cluster ${id} has no running component ${name} to restart`);
        await cluster.stopProcess(running);
        if (restartOptions.downMs) await new Promise((resolve) => setTimeout(resolve, restartOptions.downMs));
        startProcess(spec);
        await waitReady(name, restartOptions.timeoutMs ?? 60_000);
      },
      logOf(name, lines) {
        return logTail(join(logDir, `${name}.log`), lines);
      },
      async stop() {
        live.delete(id);
        await tearDown(state);
      },
    };
    return cluster;
  } catch (error) {
    live.delete(id);
    await tearDown(state);
    throw error;
  }
}

/** Stops a cluster started by hand (or any cluster) by its id. */
export async function stopClusterById(id: string): Promise<boolean> {
  const state = readState(join(ClustersRoot, id));
  if (!state) return false;
  await tearDown(state);
  return true;
}
