/**
 * A real node for the test cluster: containerd (Debian's 1.6) and runc, the kubelet and kube-proxy
 * (v1.34.4), the node's CNI network of Debian's reference plugins, and the project's images imported
 * into containerd's k8s.io namespace. The node shares the cluster's network namespace (a single-node
 * cluster whose control plane runs on the node, as kubeadm's) and has a mount namespace of its own
 * (node-mount-namespace.ts) and a cgroup root of its own (node-cgroups.ts).
 *
 * Start: certificates (kubelet client and serving, kube-proxy), the mount namespace, containerd, the
 * images, the kubelet; once the Node object has its pod CIDRs (kube-controller-manager allocates them)
 * the CNI conflist is written and the node turns Ready; then kube-proxy. Each step waits with a
 * deadline and fails naming the component and its log. Teardown is the cluster's (cluster-state.ts):
 * node processes first, then everything left in the mount namespace, then the namespace and cgroups.
 * Limits: cgroup v1 only (this machine kind); one node per cluster.
 */

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster } from './cluster.ts';
import { clientKubeconfig } from './cluster-pki.ts';
import { createCgroupRoot } from './node-cgroups.ts';
import { createNodeMountNamespace } from './node-mount-namespace.ts';
import { bridgeConflist, ClusterDnsIp, containerdConfig, containerdSpec, DebianCniDir, kubeletConfig, kubeletSpec, kubeProxyConfig, kubeProxySpec, NodeCniPlugins, nodePaths, type NodePaths } from './node-specs.ts';
import { run, runOk, type CommandResult } from './run-command.ts';
import { waitUntil } from './wait-until.ts';

const imagesScript = fileURLToPath(new URL('./build/build-node-images.sh', import.meta.url));

export interface ClusterNode {
  readonly name: string;
  readonly paths: NodePaths;
  readonly mountNs: string;
  readonly cgroupRoot: string;
  /** ctr against the node's containerd, in the k8s.io namespace (the CRI's). */
  ctr(args: readonly string[], timeoutMs?: number): CommandResult;
  /** Runs a command in the node: its network and mount namespaces. */
  inNode(file: string, args: readonly string[], options?: { input?: string; timeoutMs?: number }): CommandResult;
  /** Host pids of a pod's processes (by pod UID, from the kubelet's cgroup names). */
  podPids(podUid: string): number[];
}

/** Kernel settings the kubelet insists on; masked in the node where the host differs (see node-mount-namespace.ts). */
const KubeletSysctls = {
  'vm.overcommit_memory': '1',
  'vm.panic_on_oom': '0',
  'kernel.panic': '10',
  'kernel.panic_on_oops': '1',
  'kernel.keys.root_maxkeys': '1000000',
  'kernel.keys.root_maxbytes': '25000000',
};

/** The node images' archives (builds what is missing; the first build on a machine takes a few minutes). */
export function nodeImageArchives(): string[] {
  const result = run('bash', [imagesScript], { timeoutMs: 30 * 60_000 });
  if (result.status !== 0) throw new Error(`building the node images failed:\n${result.stderr.slice(-3000)}`);
  return result.stdout.trim().split('\n').filter((line) => line.endsWith('.tar'));
}

export async function startNode(cluster: Cluster, options: { readonly name?: string; readonly timeoutMs?: number } = {}): Promise<ClusterNode> {
  const name = options.name ?? `node-${cluster.id}`;
  const budget = options.timeoutMs ?? 240_000;
  const started = Date.now();
  const remaining = () => Math.max(10_000, budget - (Date.now() - started));
  for (const tool of ['containerd', 'containerd-shim-runc-v2', 'runc', 'ctr', 'unshare', 'iptables']) {
    if (run('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`the test node needs ${tool}: run bash scripts/setup-host.sh`);
  }
  for (const plugin of NodeCniPlugins) {
    if (!existsSync(join(DebianCniDir, plugin))) throw new Error(`the test node needs the CNI plugin ${DebianCniDir}/${plugin} (Debian package containernetworking-plugins)`);
  }
  const archives = nodeImageArchives();
  const dir = join(cluster.dir, name);
  const paths = nodePaths(dir);
  for (const folder of [paths.containerdRoot, paths.containerdState, paths.kubeletRoot, paths.podLogs, paths.cniConf, paths.cniBin, paths.cniIpam]) mkdirSync(folder, { recursive: true, mode: 0o700 });
  const cgroupRoot = `/outrigger-${cluster.id}`;

  // Recorded before anything exists, so the cluster's teardown cleans up whatever step fails.
  cluster.registerNode({ name, dir, cgroupRoot: cgroupRoot.slice(1) });

  // Certificates and kubeconfigs.
  const kubeletClient = cluster.pki.issue({ name: `${name}-kubelet-client`, commonName: `system:node:${name}`, organizations: ['system:nodes'], usage: 'client' });
  const kubeletServing = cluster.pki.issue({ name: `${name}-kubelet-serving`, commonName: name, usage: 'server', dnsNames: [name], ipAddresses: [cluster.clusterIp] });
  const kubeProxyClient = cluster.pki.issue({ name: `${name}-kube-proxy`, commonName: 'system:kube-proxy', usage: 'client' });
  writeFileSync(paths.kubeletKubeconfig, clientKubeconfig(cluster.apiServerUrl, cluster.pki.caCertFile, kubeletClient, `system:node:${name}`), { mode: 0o600 });
  writeFileSync(paths.kubeProxyKubeconfig, clientKubeconfig(cluster.apiServerUrl, cluster.pki.caCertFile, kubeProxyClient, 'system:kube-proxy'), { mode: 0o600 });
  writeFileSync(paths.resolvConf, `nameserver ${ClusterDnsIp}\n`);
  writeFileSync(paths.containerdConfig, containerdConfig(paths));
  writeFileSync(paths.kubeletConfig, kubeletConfig(paths, { nodeIp: cluster.clusterIp, caFile: cluster.pki.caCertFile, servingCert: kubeletServing, cgroupRoot }));
  writeFileSync(paths.kubeProxyConfig, kubeProxyConfig(paths, name));
  for (const plugin of NodeCniPlugins) copyFileSync(join(DebianCniDir, plugin), join(paths.cniBin, plugin));

  // Pod traffic between bridge ports goes through the namespace's iptables (kube-proxy's DNAT replies).
  runOk('ip', ['netns', 'exec', cluster.netns, 'sysctl', '-q', '-w', 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1']);
  createCgroupRoot(cgroupRoot.slice(1));
  const mountNs = createNodeMountNamespace(dir, {
    // /run/containerd: shim sockets and stdio FIFOs, which containerd 1.6 keeps there whatever its state dir.
    tmpfs: ['/opt', '/run/netns', '/run/containerd'],
    binds: [{ source: paths.cniBin, target: '/opt/cni/bin' }, { source: paths.cniConf, target: '/etc/cni/net.d' }],
    sysctls: KubeletSysctls,
  });

  const ctr = (args: readonly string[], timeoutMs = 120_000) => run('ctr', ['--address', paths.containerdSocket, '--namespace', 'k8s.io', ...args], { timeoutMs });
  const failWithLog = (component: string, error: unknown): never => {
    throw new Error(`${component} on ${name} did not become ready: ${(error as Error).message}\n--- ${component} log ---\n${cluster.logOf(component, 40)}`);
  };

  cluster.startProcess(containerdSpec(paths, mountNs));
  await waitUntil('containerd', remaining(), () => (ctr(['version'], 5_000).status === 0 ? true : undefined), 250).catch((e) => failWithLog('containerd', e));
  for (const archive of archives) {
    const imported = ctr(['images', 'import', archive], 300_000);
    if (imported.status !== 0) throw new Error(`ctr images import ${archive} failed: ${imported.stderr}`);
    const local = /localhost\/outrigger\/[a-z-]+:[\w.-]+/.exec(imported.stdout + imported.stderr)?.[0] ?? localNameOf(archive);
    const tagged = ctr(['images', 'tag', '--force', local, local.replace(/^localhost\//, 'docker.io/')]);
    if (tagged.status !== 0) throw new Error(`ctr images tag ${local} failed: ${tagged.stderr}`);
  }

  cluster.startProcess(kubeletSpec(cluster.binDir, paths, { nodeName: name, nodeIp: cluster.clusterIp, mountNs }));
  const podCidrs = await waitUntil(`node ${name} with pod CIDRs`, remaining(), () => {
    const got = cluster.kubectl(['get', 'node', name, '-o', 'jsonpath={.spec.podCIDRs}']);
    if (got.status !== 0) throw new Error(got.stderr.trim());
    const cidrs = got.stdout.trim() === '' ? [] : (JSON.parse(got.stdout) as string[]);
    return cidrs.length > 0 ? cidrs : undefined;
  }, 500).catch((e) => failWithLog('kubelet', e));
  writeFileSync(join(paths.cniConf, '10-outrigger-test-pods.conflist'), bridgeConflist(paths, podCidrs));
  await waitUntil(`node ${name} Ready`, remaining(), () => {
    const ready = cluster.kubectl(['get', 'node', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).stdout.trim();
    return ready === 'True' || undefined;
  }, 500).catch((e) => failWithLog('kubelet', e));

  cluster.startProcess(kubeProxySpec(cluster.binDir, paths, mountNs));
  await waitUntil('kube-proxy /healthz', remaining(), () => {
    const health = run('nsenter', [`--net=${cluster.netnsPath}`, '--', 'curl', '-fsS', '--max-time', '2', 'http://127.0.0.1:10256/healthz']);
    return health.status === 0 || undefined;
  }, 500).catch((e) => failWithLog('kube-proxy', e));

  return {
    name, paths, mountNs, cgroupRoot,
    ctr,
    inNode(file, args, runOptions = {}) {
      return run('nsenter', [`--net=${cluster.netnsPath}`, `--mount=${mountNs}`, '--', file, ...args], {
        timeoutMs: runOptions.timeoutMs ?? 30_000,
        ...(runOptions.input !== undefined ? { input: runOptions.input } : {}),
      });
    },
    podPids(podUid) {
      const marker = `pod${podUid}`;
      const pids: number[] = [];
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          if (readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(`${cgroupRoot}/kubepods`) && readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(marker)) pids.push(Number(entry));
        } catch {
          // gone
        }
      }
      return pids;
    },
  };
}

/** `localhost/outrigger/NAME:TAG` from an archive named NAME-TAG-ID.tar (build-node-images.sh). */
function localNameOf(archive: string): string {
  const base = archive.split('/').pop() ?? '';
  const match = /^(.+)-(\d+\.\d+\.\d+)-[0-9a-f]+\.tar$/.exec(base);
  if (!match) throw new Error(`cannot tell the image name of ${archive}`);
  return `localhost/outrigger/${match[1]}:${match[2]}`;
}
