/**
 * Finds the test cluster's binaries (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
 * kube-proxy, kubectl, etcd) in the build cache that cluster/build/build-binaries.sh fills. Never builds:
 * a cold build takes tens of minutes, so scripts/setup-host.sh does it; a missing build is a clear
 * error naming that command.
 */

import { fileURLToPath } from 'node:url';
import { run } from './run-command.ts';

const buildScript = fileURLToPath(new URL('./build/build-binaries.sh', import.meta.url));

export function findBinaries(): string {
  const result = run('bash', [buildScript, '--check'], { timeoutMs: 60_000 });
  if (result.status !== 0) {
    throw new Error(`the test cluster's Kubernetes binaries are not built: ${result.stderr.trim() || `build-binaries.sh --check exited ${result.status}`}`);
  }
  return result.stdout.trim();
}

/** Builds what is missing (long when cold) and returns the binaries' folder. */
export function buildBinaries(): string {
  const result = run('bash', [buildScript], { timeoutMs: 3 * 60 * 60_000, env: process.env });
  if (result.status !== 0) throw new Error(`building the cluster binaries failed:\n${result.stderr.slice(-4000)}`);
  return result.stdout.trim().split('\n').pop() ?? '';
}
