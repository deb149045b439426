/**
 * The repair loop's bookkeeping in delete mode, with in-memory node pods and API (the seams the
 * informer and the client-node calls implement; those are tested against the API stand-in in
 * test/integration/cni-repair.test.ts and the real kube-apiserver in
 * test/integration/cluster-repair-loop.test.ts): each failed validation run is repaired once, a new
 * failure (higher restartCount) is repaired again, failed deletes are counted and retried with
 * back-off, a change reported by the informer makes a pass at once (a burst makes one), and
 * nothing is done before the pods were listed or the plugin installed. Also the pod view the
 * informer caches and its restart back-off.
 */

import { describe, expect, it } from 'vitest';
import { CaptureSettingsAnnotation } from '../../capture/pod-annotations.js';
import { createLogger } from '../../common/log.js';
import { backoffDelay } from '../../cni-plugin/repair/node-pod-informer.js';
import { podView } from '../../cni-plugin/repair/pod-view.js';
import { decideRepair, type Pod } from '../../cni-plugin/repair/repair-decisions.js';
import { type NodePods, RepairLoop } from '../../cni-plugin/repair/repair-loop.js';
import { createInstallerMetrics } from '../../cni-plugin/repair/repair-metrics.js';

const installedAt = Date.parse('2026-01-01T00:10:00Z');

function pod(name: string, restartCount: number, created = '2026-01-01T00:00:00Z'): Pod {
  return {
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, creationTimestamp: created, annotations: { [CaptureSettingsAnnotation]: '{}' } },
    spec: { nodeName: 'n1' },
    status: { initContainerStatuses: [{ name: 'proxy-validation', restartCount, state: { terminated: { exitCode: 126 } } }] },
  };
}

/** Node pods as the informer offers them: undefined until listed, listeners told of changes. */
class FakeNodePods implements NodePods {
  pods: Pod[] | undefined;
  reads = 0;
  readonly #listeners: (() => void)[] = [];
  constructor(pods: Pod[] | undefined) {
    this.pods = pods;
  }
  current(): readonly Pod[] | undefined {
    this.reads++;
    return this.pods;
  }
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }
  change(pods: Pod[]): void {
    this.pods = pods;
    for (const listener of this.#listeners) listener();
  }
}

function setup(pods: Pod[] | undefined, failDeletes: Set<string>, options: { installed?: number | null; intervalMs?: number } = {}) {
  const calls: string[] = [];
  const nodePods = new FakeNodePods(pods);
  const metrics = createInstallerMetrics();
  const installed = options.installed === undefined ? installedAt : options.installed;
  const loop = new RepairLoop({
    mode: 'delete', nodeName: 'n1', excludeNamespaces: [], hostProc: '/proc', intervalMs: options.intervalMs ?? 60_000, metrics,
    installedAt: () => installed ?? undefined, log: createLogger({ name: 'test', level: 'silent' }), pods: nodePods,
    api: {
      deletePod: async (ns, name, uid) => {
        calls.push(`delete ${ns}/${name} ${uid}`);
        if (failDeletes.has(name)) throw new Error('HTTP 500');
        return 'deleted';
      },
    },
  });
  return { loop, calls, metrics, nodePods };
}

const until = async (what: string, check: () => boolean, timeoutMs = 2_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('repair loop (delete mode)', () => {
  it('repairs each failed validation run once, and a new failure again', async () => {
    const { loop, calls, metrics, nodePods } = setup([pod('a', 0)], new Set());
    expect(await loop.runOnce()).toEqual([{ pod: 'shop/a', outcome: 'deleted', reason: 'validation-failed' }]);
    expect(await loop.runOnce()).toEqual([]);
    nodePods.pods = [pod('a', 1)];
    expect(await loop.runOnce()).toHaveLength(1);
    expect(calls).toEqual(['delete shop/a uid-a', 'delete shop/a uid-a']);
    expect(await metrics.registry.getSingleMetricAsString('outrigger_cni_repair_pods_total')).toContain('outcome="deleted",reason="validation-failed"} 2');
  });

  it('counts a failed delete and waits out its back-off before retrying', async () => {
    const { loop, calls, metrics } = setup([pod('b', 0)], new Set(['b']));
    expect(await loop.runOnce()).toEqual([{ pod: 'shop/b', outcome: 'failed', reason: 'delete-failed' }]);
    expect(await loop.runOnce()).toEqual([]); // within the back-off (2 × 60 s)
    expect(calls).toHaveLength(1);
    expect(await metrics.registry.getSingleMetricAsString('outrigger_cni_repair_pods_total')).toContain('outcome="failed",reason="delete-failed"} 1');
  });

  it('does nothing until the pods were first listed', async () => {
    const { loop, calls, nodePods } = setup(undefined, new Set());
    expect(await loop.runOnce()).toEqual([]);
    nodePods.pods = [pod('c', 0)];
    expect(await loop.runOnce()).toHaveLength(1);
    expect(calls).toEqual(['delete shop/c uid-c']);
  });

  it('does nothing while the plugin is not installed (a deleted pod would come back uncaptured)', async () => {
    const { loop, calls } = setup([pod('d', 0)], new Set(), { installed: null });
    expect(await loop.runOnce()).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('leaves a pod created after the install alone, warning once, so it cannot loop', async () => {
    const { loop, calls, metrics } = setup([pod('e', 0, '2026-01-01T00:20:00Z')], new Set());
    expect(await loop.runOnce()).toEqual([]);
    expect(await loop.runOnce()).toEqual([]);
    expect(calls).toEqual([]);
    expect(await metrics.registry.getSingleMetricAsString('outrigger_cni_repair_pods_total')).toContain('outcome="skipped",reason="started-after-install"} 1');
  });

  it('makes a pass as soon as the informer reports a change, one pass for a burst, long before the resync', async () => {
    const { loop, calls, nodePods } = setup([], new Set(), { intervalMs: 3_600_000 });
    loop.start();
    await until('the first pass', () => nodePods.reads === 1);
    const reads = nodePods.reads;
    // A list reports its pods one by one, synchronously: one pass sees them all.
    nodePods.change([pod('f', 0)]);
    nodePods.change([pod('f', 0), pod('g', 0)]);
    nodePods.change([pod('f', 0), pod('g', 0), pod('h', 0)]);
    await until('three deletes', () => calls.length === 3);
    expect(calls.sort()).toEqual(['delete shop/f uid-f', 'delete shop/g uid-g', 'delete shop/h uid-h']);
    expect(nodePods.reads - reads).toBe(1);
    await loop.stop();
    nodePods.change([pod('i', 0)]);
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toHaveLength(3); // stopped: changes are ignored
  });

  it('resyncs every interval without any change reported (back-off retries are time-based)', async () => {
    const { loop, nodePods } = setup([], new Set(), { intervalMs: 50 });
    loop.start();
    await until('four passes', () => nodePods.reads >= 4, 2_000);
    await loop.stop();
    const reads = nodePods.reads;
    await new Promise((r) => setTimeout(r, 150));
    expect(nodePods.reads).toBe(reads);
  });
});

describe('pod view (what the informer caches)', () => {
  const settings = '{"v":1}';
  const raw = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: 'web-1', namespace: 'shop', uid: 'u-1', resourceVersion: '42', creationTimestamp: '2026-01-01T00:00:00Z',
      annotations: { [CaptureSettingsAnnotation]: settings, 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(10_000) },
      managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }], labels: { app: 'web' },
    },
    spec: { nodeName: 'n1', containers: [{ name: 'app', image: 'app:1', env: [{ name: 'A', value: 'b' }] }] },
    status: {
      phase: 'Pending',
      initContainerStatuses: [
        { name: 'proxy-validation', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } }, lastState: { terminated: { exitCode: 126, reason: 'Error' } }, image: 'x' },
        { name: 'other', restartCount: 0, state: { running: {} } },
      ],
    },
  };

  it('keeps only what the decisions read, and the resourceVersion', () => {
    expect(podView(raw)).toEqual({
      metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', resourceVersion: '42', creationTimestamp: '2026-01-01T00:00:00Z', annotations: { [CaptureSettingsAnnotation]: settings } },
      spec: { nodeName: 'n1' },
      status: { initContainerStatuses: [{ name: 'proxy-validation', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 126 } } }] },
    });
    expect(JSON.stringify(podView(raw)).length).toBeLessThan(400);
    // The same decision as on the whole pod.
    const context = { nodeName: 'n1', excludeNamespaces: [], installedAtMs: Date.parse('2026-01-01T00:01:00Z') };
    expect(decideRepair(podView(raw), context)).toEqual(decideRepair(raw as unknown as Pod, context));
    expect(decideRepair(podView(raw), context)).toEqual({ repair: true, restartCount: 3 });
  });

  it("turns a list's Date timestamps into the watch's strings", () => {
    const listed = { ...raw, metadata: { ...raw.metadata, creationTimestamp: new Date('2026-01-01T00:00:00Z'), deletionTimestamp: new Date('2026-01-01T00:05:00Z') } };
    expect(podView(listed).metadata).toMatchObject({ creationTimestamp: '2026-01-01T00:00:00.000Z', deletionTimestamp: '2026-01-01T00:05:00.000Z' });
  });

  it('gives empty fields for what is not a pod, never throws', () => {
    for (const junk of [null, 'pod', 42, [], { metadata: 'x', spec: [], status: { initContainerStatuses: 'x' } }]) {
      expect(podView(junk)).toEqual({ metadata: { name: '', namespace: '', uid: '' }, spec: {}, status: {} });
      expect(decideRepair(podView(junk), { nodeName: 'n1', excludeNamespaces: [], installedAtMs: 0 })).toMatchObject({ repair: false });
    }
    expect(podView({ spec: { hostNetwork: true } }).spec).toEqual({ hostNetwork: true });
  });
});

describe('informer restart back-off', () => {
  const backoff = { baseMs: 1_000, maxMs: 30_000 };
  it('doubles from the base to the cap, with jitter between half and one and a half times', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(n, backoff, () => 0.5))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(backoffDelay(0, backoff, () => 0)).toBe(500);
    expect(backoffDelay(9, backoff, () => 0.999999)).toBe(45_000);
  });
});
