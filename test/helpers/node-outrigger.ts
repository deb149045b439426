/**
 * outrigger on the test cluster's real node (cluster/cluster-node.ts): the shipped overlay installed with
 * the build's kubectl, the injector as its Deployment on the node, and the probes the node tests use
 * (connections from inside a pod with the test app, a pod's state and addresses).
 *
 * One change to what is shipped, because Envoy cannot be pulled here: the injector ConfigMap's
 * proxy.image is the stand-in proxy image (images/stand-in-proxy.py, which listens where Envoy would:
 * 15001, 15006, 15021). installShipped() renders the overlay (`kubectl kustomize`), changes that one
 * field and applies the rest as rendered; shippedDifference() shows that it is the only difference.
 */

import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import type { Cluster } from '../../cluster/cluster.ts';
import { waitUntil } from '../../cluster/wait-until.ts';

export const StandInProxyImage = 'outrigger/stand-in-proxy:0.1.0';
export const TestAppImage = 'outrigger/test-app:0.1.0';
type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; data?: Record<string, string>; [key: string]: unknown };

export function renderForNode(cluster: Cluster, overlay: 'default' | 'cni'): { shipped: Doc[]; applied: Doc[] } {
  const text = cluster.kubectlOk(['kustomize', `manifests/overlays/${overlay}`]);
  const shipped = parseAllDocuments(text).map((d) => d.toJS() as Doc).filter((d) => d !== null);
  const applied = structuredClone(shipped);
  const configMap = applied.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'outrigger-injector');
  if (!configMap?.data?.['config.yaml']) throw new Error('no injector ConfigMap in the overlay');
  const config = parseYaml(configMap.data['config.yaml']) as { proxy: { image: string } };
  config.proxy.image = StandInProxyImage;
  configMap.data['config.yaml'] = stringify(config);
  return { shipped, applied };
}

/** Applies the overlay as shipped (but the stand-in proxy image) and waits for the injector to serve. */
export async function installShipped(cluster: Cluster, overlay: 'default' | 'cni', options: { skipKinds?: readonly string[] } = {}): Promise<Doc[]> {
  const { applied } = renderForNode(cluster, overlay);
  const objects = applied.filter((d) => !(options.skipKinds ?? []).includes(d.kind));
  cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
  cluster.kubectlOk(['rollout', 'status', 'deployment/outrigger-injector', '-n', 'outrigger', '--timeout=180s'], { timeoutMs: 200_000 });
  await waitUntil('the webhook caBundle', 60_000, () => cluster.kubectl(['get', 'mutatingwebhookconfiguration', 'outrigger-injector', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']).stdout.trim() !== '' || undefined, 500);
  return objects;
}

export interface PodInfo {
  readonly name: string;
  readonly uid: string;
  readonly ips: readonly string[];
  readonly phase: string;
  readonly spec: { initContainers?: { name: string; restartPolicy?: string; args?: string[] }[]; containers: { name: string }[] };
  readonly status: {
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
    conditions?: { type: string; status: string }[];
  };
  readonly annotations: Record<string, string>;
}

export interface ContainerStatus {
  name: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  containerID?: string;
  state: { running?: { startedAt: string }; terminated?: { exitCode: number; startedAt: string; finishedAt: string; reason?: string }; waiting?: { reason?: string } };
  lastState?: { terminated?: { exitCode: number } };
}

function toPodInfo(item: any): PodInfo {
  return {
    name: item.metadata.name,
    uid: item.metadata.uid,
    ips: (item.status.podIPs ?? []).map((p: { ip: string }) => p.ip),
    phase: item.status.phase,
    spec: item.spec,
    status: item.status,
    annotations: item.metadata.annotations ?? {},
  };
}

export function pods(cluster: Cluster, namespace: string, selector: string): PodInfo[] {
  const list = JSON.parse(cluster.kubectlOk(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json'])) as { items: unknown[] };
  return list.items.map(toPodInfo);
}

export function pod(cluster: Cluster, namespace: string, name: string): PodInfo {
  return toPodInfo(JSON.parse(cluster.kubectlOk(['get', 'pod', name, '-n', namespace, '-o', 'json'])));
}

/** Waits until a pod matching the selector is Ready (and not being deleted), bounded. */
export async function readyPod(cluster: Cluster, namespace: string, selector: string, timeoutMs = 120_000): Promise<PodInfo> {
  return waitUntil(`a Ready pod ${selector} in ${namespace}`, timeoutMs, () => {
    const list = JSON.parse(cluster.kubectlOk(['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json'])) as { items: any[] };
    const ready = list.items.find((p) => !p.metadata.deletionTimestamp && (p.status.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'));
    if (!ready) {
      const states = list.items.map((p) => `${p.metadata.name}: ${p.status.phase} ${JSON.stringify([...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])].map((s: ContainerStatus) => [s.name, Object.keys(s.state)[0], s.state.waiting?.reason ?? s.state.terminated?.exitCode ?? '']))}`);
      throw new Error(states.join('; ') || 'no pod yet');
    }
    return toPodInfo(ready);
  }, 500);
}

export interface ConnectResult {
  readonly client_uid: number;
  readonly target: string;
  readonly lines: readonly Record<string, unknown>[];
  readonly error?: string;
}

/** `test-app connect HOST PORT` (or the stand-in proxy's) run in a pod's container with kubectl exec. */
export function connectFrom(cluster: Cluster, namespace: string, podName: string, container: string, host: string, port: number): ConnectResult {
  const program = container === 'proxy' ? '/usr/local/bin/stand-in-proxy.py' : '/usr/local/bin/test-app';
  const result = cluster.kubectl(['exec', '-n', namespace, podName, '-c', container, '--', '/usr/bin/python3', program, 'connect', host, String(port)], { timeoutMs: 30_000 });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ConnectResult;
  } catch {
    throw new Error(`connect from ${namespace}/${podName} (${container}) to ${host}:${port} printed no result (exit ${result.status}): ${result.stderr.trim()} ${result.stdout.trim()}`);
  }
}

/** The stand-in proxy's header line when a connection went through it, else undefined. */
export function viaProxy(result: ConnectResult): { listener: string; original_dst: string; uid: number } | undefined {
  const first = result.lines[0] as { via?: string; listener?: string; original_dst?: string; uid?: number } | undefined;
  return first?.via === 'stand-in-proxy' ? { listener: String(first.listener), original_dst: String(first.original_dst), uid: Number(first.uid) } : undefined;
}

/** The app's answer line (after the proxy's header when there is one). */
export function appAnswer(result: ConnectResult): { app: string; peer: string; uid: number } | undefined {
  const line = result.lines.find((l) => typeof (l as { app?: unknown }).app === 'string') as { app: string; peer: string; uid: number } | undefined;
  return line;
}

export function shippedDifference(cluster: Cluster, overlay: 'default' | 'cni'): string[] {
  const { shipped, applied } = renderForNode(cluster, overlay);
  const differences: string[] = [];
  shipped.forEach((doc, i) => {
    if (JSON.stringify(doc) !== JSON.stringify(applied[i])) differences.push(`${doc.kind}/${doc.metadata.name}`);
  });
  return differences;
}

/** A one-replica Deployment of the test app serving on 8080 (label app=NAME). */
export function appDeployment(name: string, namespace: string, extra: { annotations?: Record<string, string>; initContainers?: unknown[] } = {}): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
    spec: {
      replicas: 1, selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
        spec: {
          ...(extra.initContainers ? { initContainers: extra.initContainers } : {}),
          containers: [{ name: 'app', image: TestAppImage, imagePullPolicy: 'Never', args: ['serve', '--name', name, '--port', '8080'], ports: [{ containerPort: 8080 }] }],
        },
      },
    },
  };
}

/** `kubectl apply` of one object. */
export function applyObject(cluster: Cluster, object: unknown): void {
  cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(object) });
}

/**
 * The namespaces the node tests use: `outside` (no injection) with a Ready peer Deployment, and the
 * labelled namespace `meshNamespace`. Returns the peer pod.
 */
export async function startPeerAndMesh(cluster: Cluster, meshNamespace: string): Promise<PodInfo> {
  cluster.kubectlOk(['create', 'namespace', 'outside']);
  cluster.kubectlOk(['create', 'namespace', meshNamespace]);
  cluster.kubectlOk(['label', 'namespace', meshNamespace, 'istio-injection=enabled']);
  applyObject(cluster, appDeployment('peer', 'outside'));
  return readyPod(cluster, 'outside', 'app=peer');
}

export const ipv4Of = (p: PodInfo): string => p.ips.find((ip) => !ip.includes(':')) ?? '';
export const ipv6Of = (p: PodInfo): string => p.ips.find((ip) => ip.includes(':')) ?? '';
/** An address as it appears before `:port`. */
export const bracketed = (ip: string): string => (ip.includes(':') ? `[${ip}]` : ip);
