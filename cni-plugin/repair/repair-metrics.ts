/**
 * Prometheus metrics of the installer and its repair loop, in a registry of their own:
 *   outrigger_cni_repair_pods_total{mode, outcome, reason}  outcome: repaired | deleted | failed | skipped
 *   outrigger_cni_installed                                1 while our entry is in the primary config
 */

import { Counter, Gauge, Registry } from 'prom-client';

export const RepairOutcomes = { repaired: 'repaired', deleted: 'deleted', failed: 'failed', skipped: 'skipped' } as const;
export type RepairOutcome = (typeof RepairOutcomes)[keyof typeof RepairOutcomes];

export const FailureReasons = {
  netnsNotFound: 'netns-not-found',
  badAnnotation: 'bad-annotation',
  applyFailed: 'apply-failed',
  deleteFailed: 'delete-failed',
} as const;

export interface InstallerMetrics {
  readonly registry: Registry;
  readonly repairs: Counter<'mode' | 'outcome' | 'reason'>;
  readonly installed: Gauge;
}

export function createInstallerMetrics(): InstallerMetrics {
  const registry = new Registry();
  return {
    registry,
    repairs: new Counter({
      name: 'outrigger_cni_repair_pods_total',
      help: 'Pods found without capture (proxy-validation exit 126) and what the repair loop did with them',
      labelNames: ['mode', 'outcome', 'reason'] as const,
      registers: [registry],
    }),
    installed: new Gauge({ name: 'outrigger_cni_installed', help: '1 while outrigger-cni is in the primary CNI config of this node', registers: [registry] }),
  };
}
