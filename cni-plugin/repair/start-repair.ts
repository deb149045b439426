/**
 * Starts the repair loop with its Kubernetes client and node-scoped pod informer. run-install.ts
 * reaches this file through a dynamic import, only when --repair-mode is not off: it is where
 * @kubernetes/client-node enters the installer (its load is the informer's start-up cost, measured
 * in BENCHMARKS.md). Nothing here waits for the API server: the informer lists and watches in the
 * background and retries with back-off.
 */

import type { ApiEndpoint } from '../install/api-endpoint.js';
import { createKubeApi } from './kube-api.js';
import { NodePodInformer } from './node-pod-informer.js';
import { RepairLoop, type RepairLoopOptions } from './repair-loop.js';

export interface RepairStart extends Omit<RepairLoopOptions, 'api' | 'pods'> {
  readonly endpoint: ApiEndpoint;
}

export interface RunningRepair {
  /** A pass now (the installer calls it when the plugin becomes installed: the gate opens). */
  kick(): void;
  stop(): Promise<void>;
}

export function startRepair(options: RepairStart): RunningRepair {
  const api = createKubeApi(options.endpoint);
  const informer = new NodePodInformer(api, options.nodeName, options.log);
  const loop = new RepairLoop({ ...options, api, pods: informer });
  informer.start();
  loop.start();
  return {
    kick: () => loop.kick(),
    async stop() {
      await informer.stop();
      await loop.stop();
    },
  };
}
