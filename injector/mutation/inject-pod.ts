/**
 * Injects the proxy into a pod the decision said to inject (the pod is a private copy and is
 * changed in place): strip any previous injection, resolve the pod's options, refuse what would
 * break the pod or silently bypass capture, then add the containers, volumes, pull secrets and
 * annotations. Every problem is listed in one error.
 *
 * Placement, as Istio orders them:
 *   native sidecar -> initContainers = [proxy-init | proxy-validation, proxy, ...user's]: capture is
 *     set up and the proxy started before the user's init containers, whose traffic it then carries;
 *   classic -> initContainers = [...user's, proxy-init | proxy-validation], containers = [proxy, ...user's]:
 *     capture comes last, so the user's init containers never run captured with no proxy listening
 *     (their outbound connections would be redirected to 15001 and refused).
 * Interception mode NONE adds no proxy-init / proxy-validation (nothing is captured) and no CNI
 * settings annotation (so the CNI plugin leaves the pod alone).
 *
 * Re-injection reuses our containers as the pod holds them when nothing we set changed
 * (reuse-injected-container.ts), so the API server's reinvocation after its own plugins answers
 * with no patch.
 */

import { cloneJson } from './clone-json.js';
import { type FieldProblem, invalidInput, type OutriggerError } from '../../common/errors.js';
import { CaptureSettingsAnnotation, encodeCaptureSettings } from '../../capture/pod-annotations.js';
import type { InjectorConfig } from '../config/injector-config.js';
import type { Container, Pod } from '../kube/pod-types.js';
import { buildInitContainer, buildProxyContainer, buildValidationContainer } from './build-containers.js';
import { encodeInjectionStatus, stripInjection } from './injection-status.js';
import { InjectorAnnotations } from './pod-annotations.js';
import { type PodOptions, resolvePodOptions } from './resolve-pod-options.js';
import { reuseInjectedContainer } from './reuse-injected-container.js';

export type InjectResult = { readonly ok: true; readonly pod: Pod; readonly warnings: readonly string[] } | { readonly ok: false; readonly error: OutriggerError };

/** Problems that stop injection: the proxy's identity in use, our names taken, mounts without volumes. */
function findConflicts(pod: Pod, config: InjectorConfig): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const { uid, gid } = config.proxy;
  const podContext = pod.spec.securityContext;
  const lists = [
    ['initContainers', pod.spec.initContainers ?? []],
    ['containers', pod.spec.containers],
  ] as const;
  const ours = new Set([config.containerNames.proxy, config.containerNames.init, config.containerNames.validation]);
  for (const [list, containers] of lists) {
    containers.forEach((container: Container, i) => {
      const where = `pod .spec.${list}[${i}] (${container.name})`;
      if (ours.has(container.name)) {
        problems.push({ source: `${where}.name`, value: container.name, reason: 'is the name of a container the injector adds; rename the container (it was not added by an injection recorded in sidecar.istio.io/status)' });
      }
      const user = container.securityContext?.runAsUser ?? podContext?.runAsUser;
      if (user === uid) {
        const from = container.securityContext?.runAsUser !== undefined ? 'securityContext.runAsUser' : 'pod securityContext.runAsUser';
        problems.push({ source: `${where} ${from}`, value: String(user), reason: `runs as the proxy's user ${uid}: its traffic would bypass capture; use another user id` });
      }
      const group = container.securityContext?.runAsGroup ?? podContext?.runAsGroup;
      if (group === gid) {
        const from = container.securityContext?.runAsGroup !== undefined ? 'securityContext.runAsGroup' : 'pod securityContext.runAsGroup';
        problems.push({ source: `${where} ${from}`, value: String(group), reason: `runs as the proxy's group ${gid}: its traffic would bypass capture; use another group id` });
      }
    });
  }
  const podVolumes = new Set((pod.spec.volumes ?? []).map((v) => v.name));
  for (const volume of config.proxy.volumes) {
    if (podVolumes.has(volume.name)) {
      problems.push({ source: 'pod .spec.volumes', value: volume.name, reason: 'has the name of a volume the injector adds (injector config .proxy.volumes); rename the pod\'s volume' });
    }
  }
  const available = new Set([...podVolumes, ...config.proxy.volumes.map((v) => v.name)]);
  config.proxy.volumeMounts.forEach((mount, i) => {
    if (!available.has(mount.name)) {
      problems.push({ source: `injector config .proxy.volumeMounts[${i}].name`, value: mount.name, reason: 'names a volume that neither the pod nor the injector configuration has' });
    }
  });
  return problems;
}

/** Our containers as the pod holds them now (before stripping), by name. */
function ourContainersByName(pod: Pod, config: InjectorConfig): Map<string, Container> {
  const ours = new Set([config.containerNames.proxy, config.containerNames.init, config.containerNames.validation]);
  const found = new Map<string, Container>();
  for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    if (ours.has(container.name)) found.set(container.name, container);
  }
  return found;
}

function addContainers(pod: Pod, config: InjectorConfig, options: PodOptions, previous: Map<string, Container>): { initContainers: string[]; containers: string[] } {
  const { capture } = options;
  const setupBuilt = capture === null ? [] : [options.cniMode ? buildValidationContainer(config, capture) : buildInitContainer(config, capture)];
  const setup = setupBuilt.map((c) => reuseInjectedContainer(c, previous.get(c.name)));
  const proxyBuilt = buildProxyContainer(config, options, options.nativeSidecar);
  const proxy = reuseInjectedContainer(proxyBuilt, previous.get(proxyBuilt.name));
  const userInit = pod.spec.initContainers ?? [];
  if (options.nativeSidecar) {
    pod.spec.initContainers = [...setup, proxy, ...userInit];
    return { initContainers: [...setup.map((c) => c.name), proxy.name], containers: [] };
  }
  // Only a pod that had init containers or gets one has the list (no empty list is added).
  if (userInit.length > 0 || setup.length > 0) pod.spec.initContainers = [...userInit, ...setup];
  pod.spec.containers = [proxy, ...pod.spec.containers];
  return { initContainers: setup.map((c) => c.name), containers: [proxy.name] };
}

export function injectPod(pod: Pod, config: InjectorConfig): InjectResult {
  const problems: FieldProblem[] = [];
  const hasStatus = pod.metadata?.annotations?.[InjectorAnnotations.status] !== undefined;
  const previous = hasStatus ? ourContainersByName(pod, config) : new Map<string, Container>();
  const statusProblem = stripInjection(pod);
  if (statusProblem) problems.push(statusProblem);
  const annotationsIn = pod.metadata?.annotations ?? {};
  const resolved = resolvePodOptions(annotationsIn, config);
  if (!resolved.ok) problems.push(...resolved.problems);
  if (!statusProblem) problems.push(...findConflicts(pod, config));
  if (problems.length > 0 || !resolved.ok) {
    return { ok: false, error: invalidInput(problems, 'pod for sidecar injection') };
  }
  const { options } = resolved;

  const firstAppContainer = pod.spec.containers[0]?.name;
  const added = addContainers(pod, config, options, previous);

  const volumes: string[] = [];
  if (config.proxy.volumes.length > 0) {
    pod.spec.volumes = [...(pod.spec.volumes ?? []), ...cloneJson(config.proxy.volumes as never[])];
    volumes.push(...config.proxy.volumes.map((v) => v.name));
  }
  const pullSecrets: string[] = [];
  const existingSecrets = new Set((pod.spec.imagePullSecrets ?? []).map((s) => s.name));
  for (const name of config.imagePullSecrets) {
    if (existingSecrets.has(name)) continue;
    pod.spec.imagePullSecrets = [...(pod.spec.imagePullSecrets ?? []), { name }];
    existingSecrets.add(name);
    pullSecrets.push(name);
  }

  const metadata = (pod.metadata ??= {});
  const annotations = (metadata.annotations ??= {});
  annotations[InjectorAnnotations.status] = encodeInjectionStatus({ ...added, volumes, imagePullSecrets: pullSecrets, revision: config.revision });
  if (annotations[InjectorAnnotations.defaultContainer] === undefined && firstAppContainer !== undefined) {
    annotations[InjectorAnnotations.defaultContainer] = firstAppContainer;
  }
  if (options.cniMode && options.capture) annotations[CaptureSettingsAnnotation] = encodeCaptureSettings(options.capture.resolved);
  else delete annotations[CaptureSettingsAnnotation];
  return { ok: true, pod, warnings: options.warnings };
}
