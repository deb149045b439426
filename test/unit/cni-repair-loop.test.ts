/**
 * The repair loop's bookkeeping in delete mode, with an in-memory KubeApi (the seam the real
 * HTTPS client implements; the real client is tested against the API stand-in in
 * test/integration/cni-repair.test.ts): each failed validation run is repaired once, a new failure
 * (higher restartCount) is repaired again, failed deletes are counted and retried with back-off.
 */

import { describe, expect, it } from 'vitest';
import { CaptureSettingsAnnotation } from '../../capture/pod-annotations.js';
import { createLogger } from '../../common/log.js';
import type { KubeApi } from '../../cni-plugin/repair/kube-api.js';
import type { Pod } from '../../cni-plugin/repair/repair-decisions.js';
import { RepairLoop } from '../../cni-plugin/repair/repair-loop.js';
import { createInstallerMetrics } from '../../cni-plugin/repair/repair-metrics.js';

const installedAt = Date.parse('2026-01-01T00:10:00Z');

function pod(name: string, restartCount: number, created = '2026-01-01T00:00:00Z'): Pod {
  return {
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, creationTimestamp: created, annotations: { [CaptureSettingsAnnotation]: '{}' } },
    spec: { nodeName: 'n1' },
    status: { initContainerStatuses: [{ name: 'proxy-validation', restartCount, state: { terminated: { exitCode: 126 } } }] },
  };
}

function setup(pods: Pod[], failDeletes: Set<string>, installed: number | null = installedAt) {
  const calls: string[] = [];
  const api: KubeApi = {
    listNodePods: async (node) => {
      calls.push(`list ${node}`);
      return pods;
    },
    deletePod: async (ns, name, uid) => {
      calls.push(`delete ${ns}/${name} ${uid}`);
      if (failDeletes.has(name)) throw new Error('HTTP 500');
      return 'deleted';
    },
  };
  const metrics = createInstallerMetrics();
  const loop = new RepairLoop({
    mode: 'delete', nodeName: 'n1', excludeNamespaces: [], hostProc: '/proc', intervalMs: 60_000, api, metrics, installedAt: () => installed ?? undefined,
    log: createLogger({ name: 'test', level: 'silent' }),
  });
  return { loop, calls, metrics };
}

describe('repair loop (delete mode)', () => {
  it('repairs each failed validation run once, and a new failure again', async () => {
    const pods = [pod('a', 0)];
    const { loop, calls, metrics } = setup(pods, new Set());
    expect(await loop.runOnce()).toEqual([{ pod: 'shop/a', outcome: 'deleted', reason: 'validation-failed' }]);
    expect(await loop.runOnce()).toEqual([]);
    pods[0] = pod('a', 1);
    expect(await loop.runOnce()).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith('delete'))).toEqual(['delete shop/a uid-a', 'delete shop/a uid-a']);
    expect(calls.filter((c) => c.startsWith('list'))).toEqual(['list n1', 'list n1', 'list n1']);
    expect((await metrics.registry.getSingleMetricAsString('outrigger_cni_repair_pods_total'))).toContain('outcome="deleted",reason="validation-failed"} 2');
  });

  it('counts a failed delete and waits out its back-off before retrying', async () => {
    const { loop, calls, metrics } = setup([pod('b', 0)], new Set(['b']));
    expect(await loop.runOnce()).toEqual([{ pod: 'shop/b', outcome: 'failed', reason: 'delete-failed' }]);
    expect(await loop.runOnce()).toEqual([]); // within the back-off (2 × 60 s)
    expect(calls.filter((c) => c.startsWith('delete'))).toHaveLength(1);
    expect(await metrics.registry.getSingleMetricAsString('outrigger_cni_repair_pods_total')).toContain('outcome="failed",reason="delete-failed"} 1');
  });

  it('survives a failing list and tries again next pass', async () => {
    const metrics = createInstallerMetrics();
    let fail = true;
    const loop = new RepairLoop({
      mode: 'delete', nodeName: 'n1', excludeNamespaces: [], hostProc: '/proc', intervalMs: 60_000, metrics, installedAt: () => installedAt, log: createLogger({ name: 't', level: 'silent' }),
      api: { listNodePods: async () => { if (fail) throw new Error('down'); return [pod('c', 0)]; }, deletePod: async () => 'deleted' },
    });
    expect(await loop.runOnce()).toEqual([]);
    fail = false;
    expect(await loop.runOnce()).toHaveLength(1);
  });

  it('does nothing while the plugin is not installed (a deleted pod would come back uncaptured)', async () => {
    const { loop, calls } = setup([pod('d', 0)], new Set(), null);
    expect(await loop.runOnce()).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('leaves a pod created after the install alone, warning once, so it cannot loop', async () => {
    const { loop, calls, metrics } = setup([pod('e', 0, '2026-01-01T00:20:00Z')], new Set());
    expect(await loop.runOnce()).toEqual([]);
    expect(await loop.runOnce()).toEqual([]);
    expect(calls.filter((c) => c.startsWith('delete'))).toEqual([]);
    expect(await metrics.registry.getSingleMetricAsString('outrigger_cni_repair_pods_total')).toContain('outcome="skipped",reason="started-after-install"} 1');
  });
});
