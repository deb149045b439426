/**
 * A labelled stand-in for the kubelet's native-sidecar sequencing, which podman 4.3's `kube play`
 * lacks (it runs every init container to completion first, so an init container with
 * `restartPolicy: Always` would block the pod forever).
 *
 * The kubelet runs init containers in order; a native sidecar (restartPolicy Always) is started
 * and, once its startup probe passes, the next init container starts while it keeps running. The
 * stand-in splits the pod's init containers at the first native sidecar:
 *  - `before` stay init containers that `kube play` runs to completion (proxy-init);
 *  - the native sidecars become the pod's first regular containers (started by `kube play`);
 *  - `after` (the pod's own init containers) are returned for the test to run, in order, with
 *    `podman run --pod` once the sidecar is ready: what the kubelet would do at that point.
 * Only what the tests' pods use is supported (command/args, runAsUser/runAsGroup, dropped
 * capabilities, hostPath volume mounts); anything else is refused rather than silently dropped.
 */

import { podman } from './podman.js';
import type { PodmanSetup } from './podman.js';

type Json = Record<string, any>;

export interface NativeStandIn {
  /** The pod podman plays: `before` as init containers, sidecars first among the containers. */
  readonly pod: Json;
  /** Init containers the kubelet would start after the sidecar is ready, in order. */
  readonly after: readonly Json[];
  /** Names of the native sidecars (now regular containers). */
  readonly sidecars: readonly string[];
}

export function nativeSidecarStandIn(pod: Json): NativeStandIn {
  const init = (pod.spec.initContainers ?? []) as Json[];
  const first = init.findIndex((c) => c.restartPolicy === 'Always');
  if (first === -1) throw new Error('the pod has no native sidecar (init container with restartPolicy Always)');
  const before = init.slice(0, first);
  const rest = init.slice(first);
  const sidecars = rest.filter((c) => c.restartPolicy === 'Always').map(({ restartPolicy: _always, ...c }) => c);
  const after = rest.filter((c) => c.restartPolicy !== 'Always');
  const spec = { ...pod.spec, containers: [...sidecars, ...(pod.spec.containers as Json[])] };
  if (before.length > 0) spec.initContainers = before;
  else delete spec.initContainers;
  return { pod: { ...pod, spec }, after, sidecars: sidecars.map((c) => c.name as string) };
}

/** Runs one init container of the pod as the kubelet would, inside the running pod; returns its exit code. */
export function runInitContainerInPod(setup: PodmanSetup, podName: string, pod: Json, container: Json): { status: number; output: string } {
  const volumes = new Map<string, Json>(((pod.spec.volumes ?? []) as Json[]).map((v) => [v.name as string, v]));
  const flags: string[] = ['--rm', '--pod', podName, '--name', `${podName}-${container.name}`];
  const sc = (container.securityContext ?? {}) as Json;
  if (sc.runAsUser !== undefined) flags.push('--user', `${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}`);
  const drop = (sc.capabilities?.drop ?? []) as string[];
  if (drop.length > 0) flags.push('--cap-drop', drop.join(','));
  if ((sc.capabilities?.add ?? []).length > 0) throw new Error(`stand-in: ${container.name} adds capabilities, not supported`);
  for (const mount of (container.volumeMounts ?? []) as Json[]) {
    const volume = volumes.get(mount.name);
    if (!volume?.hostPath?.path) throw new Error(`stand-in: ${container.name} mounts ${mount.name}, which is not a hostPath volume`);
    flags.push('-v', `${volume.hostPath.path}:${mount.mountPath}`);
  }
  const command = (container.command ?? []) as string[];
  if (command.length === 0) throw new Error(`stand-in: ${container.name} has no command`);
  if (container.imagePullPolicy === 'Never') flags.push('--pull', 'never');
  const result = podman(setup, ['run', ...flags, '--entrypoint', command[0] as string, container.image, ...command.slice(1), ...((container.args ?? []) as string[])], 60_000);
  return { status: result.status, output: result.stdout + result.stderr };
}
