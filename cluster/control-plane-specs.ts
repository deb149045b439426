/**
 * The control plane's command lines: etcd, kube-apiserver, kube-controller-manager and
 * kube-scheduler as a production cluster runs them (kubeadm's choices where they matter: RBAC and
 * Node authorisation, NodeRestriction and PodSecurity beside the default admission plugins, service
 * account tokens from a signing key, an audit log, TLS 1.2+), adapted to one machine: etcd on the
 * namespace's loopback without TLS, single instances, and --enable-aggregator-routing so the API server
 * reaches webhooks at their EndpointSlice's address (no kube-proxy needed on the control plane).
 * Upstream reference: kubernetes/kubernetes hack/local-up-cluster.sh.
 */

import { join } from 'node:path';
import { ClusterCidrs, ClusterDomain, ClusterPorts } from './cluster-layout.ts';
import type { ComponentSpec } from './component-process.ts';

export interface ControlPlaneFiles {
  readonly binDir: string;
  readonly dataDir: string;
  readonly pkiDir: string;
  readonly caCertFile: string;
  readonly caKeyFile: string;
  readonly apiServerCert: { readonly certFile: string; readonly keyFile: string };
  readonly kubeletClientCert: { readonly certFile: string; readonly keyFile: string };
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
  readonly auditPolicyFile: string;
  readonly auditLogFile: string;
  readonly controllerManagerKubeconfig: string;
  readonly schedulerKubeconfig: string;
}

/** Every request at Metadata level (who, what, when, response code), as local-up-cluster.sh logs. */
export const AuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`;

export const ServiceCidrs = `${ClusterCidrs.serviceV4},${ClusterCidrs.serviceV6}`;

export function etcdSpec(files: ControlPlaneFiles): ComponentSpec {
  const client = `http://127.0.0.1:${ClusterPorts.etcdClient}`;
  const peer = `http://127.0.0.1:${ClusterPorts.etcdPeer}`;
  return {
    name: 'etcd',
    command: join(files.binDir, 'etcd'),
    args: [
      '--name=default',
      `--data-dir=${join(files.dataDir, 'etcd')}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      '--listen-metrics-urls=http://127.0.0.1:2381',
      '--log-level=warn',
      // A throwaway test cluster: its data never needs to survive a crash of the machine.
      '--unsafe-no-fsync',
    ],
  };
}

export function apiServerSpec(files: ControlPlaneFiles, advertiseAddress: string): ComponentSpec {
  return {
    name: 'kube-apiserver',
    command: join(files.binDir, 'kube-apiserver'),
    args: [
      `--etcd-servers=http://127.0.0.1:${ClusterPorts.etcdClient}`,
      '--bind-address=0.0.0.0',
      `--secure-port=${ClusterPorts.apiServer}`,
      `--advertise-address=${advertiseAddress}`,
      `--tls-cert-file=${files.apiServerCert.certFile}`,
      `--tls-private-key-file=${files.apiServerCert.keyFile}`,
      '--tls-min-version=VersionTLS12',
      `--client-ca-file=${files.caCertFile}`,
      `--kubelet-client-certificate=${files.kubeletClientCert.certFile}`,
      `--kubelet-client-key=${files.kubeletClientCert.keyFile}`,
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      `--service-account-issuer=https://kubernetes.default.svc.${ClusterDomain}`,
      `--service-account-key-file=${files.serviceAccountPublicKeyFile}`,
      `--service-account-signing-key-file=${files.serviceAccountKeyFile}`,
      `--service-cluster-ip-range=${ServiceCidrs}`,
      '--authorization-mode=Node,RBAC',
      // Added to the defaults (which already hold MutatingAdmissionWebhook, ValidatingAdmissionWebhook,
      // PodSecurity, ServiceAccount, NamespaceLifecycle, ...); named here so the list is explicit.
      '--enable-admission-plugins=NodeRestriction,PodSecurity,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
      '--enable-aggregator-routing=true',
      '--allow-privileged=true',
      `--audit-policy-file=${files.auditPolicyFile}`,
      `--audit-log-path=${files.auditLogFile}`,
      '--audit-log-format=json',
      '--audit-log-maxsize=200',
      '--profiling=false',
      '--v=1',
    ],
  };
}

export function controllerManagerSpec(files: ControlPlaneFiles): ComponentSpec {
  return {
    name: 'kube-controller-manager',
    command: join(files.binDir, 'kube-controller-manager'),
    args: [
      `--kubeconfig=${files.controllerManagerKubeconfig}`,
      `--authentication-kubeconfig=${files.controllerManagerKubeconfig}`,
      `--authorization-kubeconfig=${files.controllerManagerKubeconfig}`,
      '--bind-address=0.0.0.0',
      `--secure-port=${ClusterPorts.controllerManager}`,
      `--cert-dir=${join(files.dataDir, 'kube-controller-manager')}`,
      `--service-account-private-key-file=${files.serviceAccountKeyFile}`,
      `--root-ca-file=${files.caCertFile}`,
      `--cluster-signing-cert-file=${files.caCertFile}`,
      `--cluster-signing-key-file=${files.caKeyFile}`,
      '--use-service-account-credentials=true',
      '--controllers=*,bootstrapsigner,tokencleaner',
      `--service-cluster-ip-range=${ServiceCidrs}`,
      '--allocate-node-cidrs=true',
      `--cluster-cidr=${ClusterCidrs.podV4},${ClusterCidrs.podV6}`,
      '--node-cidr-mask-size-ipv4=24',
      '--node-cidr-mask-size-ipv6=64',
      '--leader-elect=true',
      '--profiling=false',
      '--v=1',
    ],
  };
}

export function schedulerSpec(files: ControlPlaneFiles): ComponentSpec {
  return {
    name: 'kube-scheduler',
    command: join(files.binDir, 'kube-scheduler'),
    args: [
      `--kubeconfig=${files.schedulerKubeconfig}`,
      `--authentication-kubeconfig=${files.schedulerKubeconfig}`,
      `--authorization-kubeconfig=${files.schedulerKubeconfig}`,
      '--bind-address=0.0.0.0',
      `--secure-port=${ClusterPorts.scheduler}`,
      `--cert-dir=${join(files.dataDir, 'kube-scheduler')}`,
      '--leader-elect=true',
      '--profiling=false',
      '--v=1',
    ],
  };
}
