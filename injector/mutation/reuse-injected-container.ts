/**
 * Re-injection without needless change: when a pod already holds one of our containers (recorded in
 * its status annotation), the container we would build now is compared with it. If everything we
 * would set is already there with the same value, the existing container is kept as it is, with what
 * the API server added since (defaulting: imagePullPolicy, terminationMessagePath, probe thresholds,
 * port protocols) and what other admission added (the ServiceAccount plugin's token mount). Otherwise
 * (another image, other args: the configuration or the pod's settings changed) the fresh container
 * is used, keeping only the other admission's volume mounts.
 *
 * Why: with reinvocationPolicy IfNeeded the API server calls the webhook a second time for every pod,
 * after its own plugins mounted the token into the containers we added; rebuilding them bare would
 * make that second call a real mutation each time (the defaults and the mount taken away and put
 * back). The comparison walks only what we set (the fresh container's shape), so its cost is bounded
 * by our container, never by the pod's input.
 */

import type { Container } from '../kube/pod-types.js';
import { cloneJson } from './clone-json.js';

/** Every value in `ours` is in `theirs` (objects: key by key; lists: same length, item by item). */
function isContainedIn(ours: unknown, theirs: unknown): boolean {
  if (ours === theirs) return true;
  if (Array.isArray(ours)) {
    return Array.isArray(theirs) && ours.length === theirs.length && ours.every((item, i) => isContainedIn(item, theirs[i]));
  }
  if (typeof ours === 'object' && ours !== null) {
    if (typeof theirs !== 'object' || theirs === null || Array.isArray(theirs)) return false;
    return Object.entries(ours).every(([key, value]) => Object.hasOwn(theirs, key) && isContainedIn(value, (theirs as Record<string, unknown>)[key]));
  }
  return false;
}

/** The mounts `previous` has at paths `fresh` does not mount: added by other admission. */
function foreignMounts(fresh: Container, previous: Container): NonNullable<Container['volumeMounts']> {
  const ours = new Set((fresh.volumeMounts ?? []).map((m) => m.mountPath));
  return (previous.volumeMounts ?? []).filter((m) => !ours.has(m.mountPath));
}

export function reuseInjectedContainer(fresh: Container, previous: Container | undefined): Container {
  if (previous === undefined) return fresh;
  const foreign = foreignMounts(fresh, previous);
  const previousOwnMounts = (previous.volumeMounts ?? []).filter((m) => !foreign.includes(m));
  const comparable = { ...previous, volumeMounts: previousOwnMounts };
  const freshComparable = { ...fresh, volumeMounts: fresh.volumeMounts ?? [] };
  if (isContainedIn(freshComparable, comparable)) return previous;
  return foreign.length === 0 ? fresh : { ...fresh, volumeMounts: [...(fresh.volumeMounts ?? []), ...cloneJson(foreign as never[])] };
}
