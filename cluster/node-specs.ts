/**
 * A test node's configuration files and command lines: containerd (Debian's 1.6), the kubelet and
 * kube-proxy (v1.34.4 from the cluster build), and the node's CNI network (Debian's
 * containernetworking-plugins: bridge + host-local + portmap, dual-stack). Every setting that
 * differs from a default says why next to it.
 */

import { join } from 'node:path';
import { ClusterCidrs, ClusterDomain } from './cluster-layout.ts';
import type { ComponentSpec } from './component-process.ts';

export interface NodePaths {
  readonly dir: string;
  readonly containerdRoot: string;
  readonly containerdState: string;
  readonly containerdSocket: string;
  readonly containerdConfig: string;
  readonly kubeletRoot: string;
  readonly kubeletConfig: string;
  readonly kubeletKubeconfig: string;
  readonly kubeProxyConfig: string;
  readonly kubeProxyKubeconfig: string;
  readonly podLogs: string;
  readonly cniConf: string;
  readonly cniBin: string;
  readonly cniIpam: string;
  readonly resolvConf: string;
}

export function nodePaths(dir: string): NodePaths {
  return {
    dir,
    containerdRoot: join(dir, 'containerd', 'root'),
    containerdState: join(dir, 'containerd', 'state'),
    containerdSocket: join(dir, 'containerd', 'containerd.sock'),
    containerdConfig: join(dir, 'containerd.toml'),
    kubeletRoot: join(dir, 'kubelet'),
    kubeletConfig: join(dir, 'kubelet-config.yaml'),
    kubeletKubeconfig: join(dir, 'kubelet.kubeconfig'),
    kubeProxyConfig: join(dir, 'kube-proxy-config.yaml'),
    kubeProxyKubeconfig: join(dir, 'kube-proxy.kubeconfig'),
    podLogs: join(dir, 'pod-logs'),
    cniConf: join(dir, 'cni', 'net.d'),
    cniBin: join(dir, 'cni', 'bin'),
    cniIpam: join(dir, 'cni', 'ipam'),
    resolvConf: join(dir, 'resolv.conf'),
  };
}

export const SandboxImage = 'docker.io/outrigger/pause:0.1.0';
/** The cluster DNS address pods are told about; no DNS server runs (tests use addresses). */
export const ClusterDnsIp = '198.19.0.10';

export function containerdConfig(paths: NodePaths): string {
  return `# containerd 1.6 (Debian) for one test node. Written by cluster/node-specs.ts.
version = 2
root = "${paths.containerdRoot}"
state = "${paths.containerdState}"
# Snapshotters this machine cannot use are not loaded (no btrfs/zfs/devmapper, no aufs module).
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "${paths.containerdSocket}"

[plugins."io.containerd.grpc.v1.cri"]
  # Our own pause image, imported with the others: nothing can be pulled here.
  sandbox_image = "${SandboxImage}"
  # Processes on this machine kind lack CAP_SYS_RESOURCE, so no container can get a negative
  # oom_score_adj (the kubelet asks -998 for every pod sandbox): clamp to containerd's own (0).
  restrict_oom_score_adj = true
  # The kubelet runs with the cgroupfs driver on cgroup v1; containerd 1.6 cannot tell it over CRI.
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        # runc's state in the node's folder, not the host's /run/containerd.
        Root = "${join(paths.dir, 'containerd', 'runc')}"
  # The node's own CNI folders (its mount namespace maps them to the node's folder); only the first
  # conflist in lexical order is used, as on every containerd node.
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
    max_conf_num = 1

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(paths.dir, 'containerd', 'opt')}"
`;
}

export function kubeletConfig(paths: NodePaths, options: { nodeIp: string; caFile: string; servingCert: { certFile: string; keyFile: string }; cgroupRoot: string }): string {
  return `# The test node's kubelet (v1.34.4). Written by cluster/node-specs.ts.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 without systemd: the cgroupfs driver, as containerd's runc (SystemdCgroup = false). Pods live
# under the node's own cgroup root, so two nodes on one machine never share kubepods.
cgroupDriver: cgroupfs
cgroupRoot: ${options.cgroupRoot}
cgroupsPerQOS: true
# 1.34 still runs on cgroup v1 by default; said explicitly for the 1.35+ default.
failCgroupV1: false
containerRuntimeEndpoint: unix://${paths.containerdSocket}
address: ${options.nodeIp}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${options.caFile}
authorization:
  mode: Webhook
tlsCertFile: ${options.servingCert.certFile}
tlsPrivateKeyFile: ${options.servingCert.keyFile}
clusterDomain: ${ClusterDomain}
clusterDNS: [${ClusterDnsIp}]
# Not the host's resolv.conf: a node file naming only the (absent) cluster DNS, nothing routable.
resolvConf: ${paths.resolvConf}
# Imported images cannot be pulled again: image GC off (100 disables it), and eviction thresholds low
# enough that a busy shared disk never evicts the test's pods or images.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
  imagefs.inodesFree: 1%
evictionPressureTransitionPeriod: 10s
# Container logs in the node's folder, not /var/log/pods of the host.
podLogsDirectory: ${paths.podLogs}
serializeImagePulls: false
# The node's status often, so readiness changes show quickly in tests.
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
# No swap on these machines; kept explicit.
failSwapOn: true
# This machine kind withholds CAP_SYS_RESOURCE, so the default -999 cannot be set.
oomScoreAdj: 0
maxPods: 110
`;
}

export function kubeletSpec(binDir: string, paths: NodePaths, options: { nodeName: string; nodeIp: string; mountNs: string }): ComponentSpec {
  return {
    name: 'kubelet',
    command: join(binDir, 'kubelet'),
    args: [
      `--config=${paths.kubeletConfig}`,
      `--kubeconfig=${paths.kubeletKubeconfig}`,
      `--root-dir=${paths.kubeletRoot}`,
      `--hostname-override=${options.nodeName}`,
      `--node-ip=${options.nodeIp}`,
      '--v=1',
    ],
    mountNs: options.mountNs,
  };
}

export function containerdSpec(paths: NodePaths, mountNs: string): ComponentSpec {
  return { name: 'containerd', command: 'containerd', args: ['--config', paths.containerdConfig, '--log-level', 'warn'], mountNs };
}

export function kubeProxyConfig(paths: NodePaths, nodeName: string): string {
  return `# The test node's kube-proxy (v1.34.4, iptables mode). Written by cluster/node-specs.ts.
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: ${nodeName}
clusterCIDR: ${ClusterCidrs.podV4},${ClusterCidrs.podV6}
clientConnection:
  kubeconfig: ${paths.kubeProxyKubeconfig}
bindAddress: 0.0.0.0
# This machine kind withholds CAP_SYS_RESOURCE, so the default -999 cannot be set.
oomScoreAdj: 0
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# nf_conntrack_max and the TCP timeouts are global to the machine, not the node's namespace: leave them.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

export function kubeProxySpec(binDir: string, paths: NodePaths, mountNs: string): ComponentSpec {
  return { name: 'kube-proxy', command: join(binDir, 'kube-proxy'), args: [`--config=${paths.kubeProxyConfig}`, '--v=1'], mountNs };
}

/** The node's pod network: a bridge with host-local IPAM over the node's pod CIDRs, then portmap. */
export function bridgeConflist(paths: NodePaths, podCidrs: readonly string[]): string {
  const ranges = podCidrs.map((subnet) => [{ subnet }]);
  return `${JSON.stringify({
    cniVersion: '1.0.0',
    name: 'outrigger-test-pods',
    plugins: [
      {
        type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, hairpinMode: true,
        ipam: { type: 'host-local', dataDir: paths.cniIpam, ranges, routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2)}\n`;
}

/** The CNI plugins from Debian's containernetworking-plugins the node uses. */
export const NodeCniPlugins = ['bridge', 'host-local', 'loopback', 'portmap'] as const;
export const DebianCniDir = '/usr/lib/cni';
