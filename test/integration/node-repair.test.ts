// The CNI installer's repair loop on a real node (kubelet v1.34.4, containerd 1.6; cluster/cluster-node.ts),
// with the shipped RBAC: a pod in a labelled namespace that started while the injector was already in CNI
// mode but before the plugin was on the node runs without capture, so its proxy-validation fails. Once the
// installer DaemonSet is there, the repair loop (an informer on the node's pods) finds it and
//   delete mode (overlays/cni): deletes it, its ReplicaSet recreates it through the plugin, captured;
//   apply mode (overlays/cni-repair-apply): applies capture in the running pod's network namespace, and
//   the kubelet's next retry of proxy-validation passes: the same pod, now captured.
// STAND-IN: Envoy cannot be pulled here; the proxy image is the stand-in proxy (test/helpers/node-outrigger.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../cluster/cluster.ts';
import { startNode } from '../../cluster/cluster-node.ts';
import { waitUntil } from '../../cluster/wait-until.ts';
import { appDeployment, applyObject, connectFrom, installShipped, ipv4Of, pods, readyPod, renderForNode, startPeerAndMesh, viaProxy, type PodInfo } from '../helpers/node-outrigger.js';

let cluster: Cluster;
let peer: PodInfo;

/** A pod of the Deployment whose proxy-validation has failed at least once (exit 126: no capture). */
async function escapedPod(name: string): Promise<PodInfo> {
  return waitUntil(`a pod of ${name} whose proxy-validation failed`, 180_000, () => {
    const [found] = pods(cluster, 'mesh', `app=${name}`);
    const validation = found?.status.initContainerStatuses?.find((s) => s.name === 'proxy-validation');
    const failed = validation?.lastState?.terminated?.exitCode === 126 || validation?.state.terminated?.exitCode === 126;
    return found && failed ? found : undefined;
  }, 1_000);
}

/** Applies the DaemonSet of an overlay (the rest of the cni install is already there). */
function installDaemonSet(overlay: 'cni' | 'cni-repair-apply'): void {
  const text = cluster.kubectlOk(['kustomize', `manifests/overlays/${overlay}`]);
  const daemonSet = text.split(/^---$/m).find((doc) => /^kind: DaemonSet$/m.test(doc));
  if (!daemonSet) throw new Error(`no DaemonSet in ${overlay}`);
  cluster.kubectlOk(['apply', '-f', '-'], { input: daemonSet });
  cluster.kubectlOk(['rollout', 'status', 'daemonset/outrigger-cni', '-n', 'outrigger', '--timeout=180s'], { timeoutMs: 200_000 });
}

beforeAll(async () => {
  cluster = await startCluster();
  await startNode(cluster);
  // The injector in CNI mode, but no installer on the node yet.
  expect(renderForNode(cluster, 'cni').applied.some((d) => d.kind === 'DaemonSet')).toBe(true);
  await installShipped(cluster, 'cni', { skipKinds: ['DaemonSet'] });
  peer = await startPeerAndMesh(cluster, 'mesh');
}, 600_000);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

describe('repair on the node', () => {
  it('delete mode: the escaped pod is deleted and its ReplicaSet\'s new pod is captured', async () => {
    applyObject(cluster, appDeployment('early', 'mesh'));
    const escaped = await escapedPod('early');
    expect(escaped.spec.initContainers?.map((c) => c.name)).toEqual(['proxy-validation', 'proxy']);
    installDaemonSet('cni');
    const replaced = await waitUntil('a new Ready pod in place of the escaped one', 240_000, () => {
      const now = pods(cluster, 'mesh', 'app=early');
      if (now.some((p) => p.uid === escaped.uid)) return undefined;
      return now.find((p) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }, 1_000);
    expect(replaced.uid).not.toBe(escaped.uid);
    expect(replaced.status.initContainerStatuses?.find((s) => s.name === 'proxy-validation')?.restartCount).toBe(0);
    expect(viaProxy(connectFrom(cluster, 'mesh', replaced.name, 'app', ipv4Of(peer), 8080))?.listener).toBe('outbound');
    const logs = cluster.kubectlOk(['logs', '-n', 'outrigger', 'daemonset/outrigger-cni']);
    expect(logs).toMatch(new RegExp(`"pod":"mesh/${escaped.name}"[^\\n]*deleted|deleted[^\\n]*mesh/${escaped.name}`));
  }, 480_000);

  it('apply mode: capture is applied in the running pod, whose next proxy-validation passes (same pod)', async () => {
    // Uninstall (the installer restores the node), start a pod without capture, then install in apply mode.
    cluster.kubectlOk(['delete', 'daemonset', 'outrigger-cni', '-n', 'outrigger', '--ignore-not-found', '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
    await waitUntil('the installer pod to be gone', 120_000, () => pods(cluster, 'outrigger', 'app.kubernetes.io/name=outrigger-cni').length === 0 || undefined, 1_000);
    applyObject(cluster, appDeployment('early-apply', 'mesh'));
    const escaped = await escapedPod('early-apply');
    installDaemonSet('cni-repair-apply');
    const repaired = await readyPod(cluster, 'mesh', 'app=early-apply', 300_000).catch((error: Error) => {
      throw new Error(`${error.message}\n--- installer log ---\n${cluster.kubectl(['logs', '-n', 'outrigger', 'daemonset/outrigger-cni', '--tail=30']).stdout}`);
    });
    expect(repaired.uid).toBe(escaped.uid);
    expect(repaired.status.initContainerStatuses?.find((s) => s.name === 'proxy-validation')?.state.terminated?.exitCode).toBe(0);
    expect(viaProxy(connectFrom(cluster, 'mesh', repaired.name, 'app', ipv4Of(peer), 8080))?.listener).toBe('outbound');
  }, 540_000);
});
