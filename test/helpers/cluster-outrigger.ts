/**
 * outrigger installed in a node-less test cluster (cluster/cluster.ts): the shipped overlay applied
 * with the build's kubectl, and the injector run the way its Deployment would run it, as local
 * processes inside the cluster's network namespace.
 *
 * STAND-IN (until the cluster has a node): the Deployment's pods cannot start without a kubelet, so
 * each replica is `outrigger injector` with the Deployment's own args and the ConfigMap's own config
 * file, authenticated with a token of the shipped ServiceAccount (TokenRequest: what the kubelet
 * would project), listening on its own "pod" address (198.18.63.N/32 on the namespace's loopback).
 * The harness plays the endpointslice controller: one EndpointSlice for the shipped Service (its
 * label kubernetes.io/service-name, managed-by outrigger-test-harness) lists the replicas and their
 * readiness. kube-apiserver (--enable-aggregator-routing) resolves the Service through that slice
 * and calls the replica over real TLS, exactly as it calls a pod.
 * Test-only deviations from the Deployment, each passed explicitly: --kubeconfig (the token file),
 * --address, and --tls-check-interval (seconds instead of a minute, so repairs show up quickly).
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { Cluster } from '../../cluster/cluster.ts';
import type { RunningComponent } from '../../cluster/component-process.ts';
import { run } from '../../cluster/run-command.ts';
import { waitUntil } from '../../cluster/wait-until.ts';

export const cliPath = fileURLToPath(new URL('../../dist/outrigger.mjs', import.meta.url));
export const OutriggerNamespace = 'outrigger';
const ServiceName = 'outrigger-injector';
const SliceName = 'outrigger-injector-local-replicas';
const WebhookPort = 9443;

type Doc = { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: any };

export function renderOverlayWithClusterKubectl(cluster: Cluster, overlay: string): Doc[] {
  const text = cluster.kubectlOk(['kustomize', `manifests/overlays/${overlay}`]);
  return parseAllDocuments(text).map((d) => d.toJS() as Doc).filter((d) => d !== null);
}

/** `kubectl apply -k manifests/overlays/OVERLAY`, as a user installs outrigger. */
export function applyOverlay(cluster: Cluster, overlay: string): string {
  return cluster.kubectlOk(['apply', '-k', `manifests/overlays/${overlay}`]);
}

export interface LocalReplica {
  readonly address: string;
  readonly process: RunningComponent;
}

export interface LocalInjectors {
  readonly replicas: readonly LocalReplica[];
  /** Starts one more replica, waits for /readyz and lists it as ready in the slice. */
  add(): Promise<LocalReplica>;
  /** As a pod's termination: listed not ready first, then SIGTERM (drain), then gone from the slice. */
  remove(replica: LocalReplica): Promise<void>;
  /** maxSurge 1, maxUnavailable 0, as the Deployment's strategy: a new replica before each old one goes. */
  rollingRestart(): Promise<void>;
  /** Every replica stopped and the slice emptied (the injector is down). */
  stopAll(): Promise<void>;
  readonly configFile: string;
}

function curlInCluster(cluster: Cluster, url: string): { status: number; body: string } {
  const result = run('nsenter', [`--net=${cluster.netnsPath}`, '--', 'curl', '-ks', '--max-time', '3', '-o', '-', '-w', '\n%{http_code}', url]);
  const lines = result.stdout.split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}

export async function startLocalInjectors(cluster: Cluster, options: { overlay?: string; replicas?: number; extraArgs?: readonly string[] } = {}): Promise<LocalInjectors> {
  const docs = renderOverlayWithClusterKubectl(cluster, options.overlay ?? 'default');
  const deployment = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === ServiceName);
  const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === ServiceName);
  if (!deployment || !configMap?.data?.['config.yaml']) throw new Error('the overlay has no injector Deployment or ConfigMap');
  const container = deployment.spec.template.spec.containers.find((c: { name: string }) => c.name === 'injector');
  const dir = join(cluster.dir, 'local-injector');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, configMap.data['config.yaml']);
  const args = (container.args as string[]).map((a) => (a.startsWith('--config-file=') ? `--config-file=${configFile}` : a));
  if (!args.includes(`--port=${WebhookPort}`)) throw new Error(`the Deployment's injector does not listen on ${WebhookPort}: ${args.join(' ')}`);
  const kubeconfig = cluster.serviceAccountKubeconfig(OutriggerNamespace, ServiceName, { durationSeconds: 7200 });

  const replicas: LocalReplica[] = [];
  const notReady = new Set<string>();
  let next = 10;

  const writeSlice = () => {
    const endpoints = replicas.map((r) => ({ addresses: [r.address], conditions: { ready: !notReady.has(r.address), serving: true, terminating: notReady.has(r.address) } }));
    const slice = {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: SliceName, namespace: OutriggerNamespace, labels: { 'kubernetes.io/service-name': ServiceName, 'endpointslice.kubernetes.io/managed-by': 'outrigger-test-harness' } },
      addressType: 'IPv4',
      ports: [{ name: 'https-webhook', port: WebhookPort, protocol: 'TCP' }],
      endpoints,
    };
    cluster.kubectlOk(['apply', '--server-side', '--force-conflicts', '--field-manager=outrigger-test-harness', '-f', '-'], { input: JSON.stringify(slice) });
  };

  const add = async (): Promise<LocalReplica> => {
    const address = `198.18.63.${next++}`;
    run('ip', ['-n', cluster.netns, 'addr', 'add', `${address}/32`, 'dev', 'lo']);
    const child = cluster.startProcess({
      name: `injector-${address}`,
      command: process.execPath,
      args: [cliPath, ...args, `--kubeconfig=${kubeconfig}`, `--address=${address}`, '--tls-check-interval=2s', ...(options.extraArgs ?? [])],
    });
    const replica = { address, process: child };
    await waitUntil(`injector ${address} /readyz`, 60_000, () => {
      const { status, body } = curlInCluster(cluster, `https://${address}:${WebhookPort}/readyz`);
      if (status !== 200) throw new Error(`HTTP ${status} ${body.slice(0, 200)}\n${cluster.logOf(child.name, 10)}`);
      return true;
    });
    replicas.push(replica);
    writeSlice();
    return replica;
  };

  const remove = async (replica: LocalReplica): Promise<void> => {
    notReady.add(replica.address);
    writeSlice();
    await cluster.stopProcess(replica.process);
    replicas.splice(replicas.indexOf(replica), 1);
    notReady.delete(replica.address);
    writeSlice();
  };

  for (let i = 0; i < (options.replicas ?? 2); i++) await add();
  return {
    get replicas() { return [...replicas]; },
    add,
    remove,
    async rollingRestart() {
      for (const old of [...replicas]) {
        await add();
        await remove(old);
      }
    },
    async stopAll() {
      for (const r of [...replicas]) await remove(r);
    },
    configFile,
  };
}

/** The webhook's caBundle (decoded), '' while unset. */
export function webhookCaBundle(cluster: Cluster): string {
  const b64 = cluster.kubectlOk(['get', 'mutatingwebhookconfiguration', ServiceName, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']).trim();
  return Buffer.from(b64, 'base64').toString('utf8');
}

/** A labelled namespace (istio-injection=enabled unless told otherwise), created fresh. */
export async function createNamespace(cluster: Cluster, name: string, labels: Record<string, string> = { 'istio-injection': 'enabled' }): Promise<void> {
  cluster.kubectlOk(['create', 'namespace', name]);
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  if (pairs.length > 0) cluster.kubectlOk(['label', 'namespace', name, ...pairs, '--overwrite']);
  // Pods need the namespace's default ServiceAccount (the controller-manager makes it).
  await waitUntil(`the default ServiceAccount of namespace ${name}`, 30_000, () => cluster.kubectl(['get', 'serviceaccount', 'default', '-n', name]).status === 0 || undefined, 200);
}

/** Waits until the API server calls the webhook: a server-side dry-run pod in a labelled namespace comes back injected. */
export async function waitForWebhook(cluster: Cluster, namespace: string): Promise<void> {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'webhook-probe', namespace }, spec: { containers: [{ name: 'app', image: 'outrigger/test-app:0.1.0' }] } };
  await waitUntil('the API server to call the injector', 60_000, () => {
    const result = cluster.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: JSON.stringify(pod) });
    if (result.status !== 0) throw new Error(result.stderr.trim());
    const created = JSON.parse(result.stdout) as { spec: { initContainers?: { name: string }[] } };
    return (created.spec.initContainers ?? []).some((c) => c.name === 'proxy') || undefined;
  }, 500);
}
