/**
 * The repair loop: pods that started before the plugin was on the node run without capture, and
 * their proxy-validation init container fails with 126. It reads this node's pods from an
 * informer (node-pod-informer.ts: one list, then a node-scoped watch) and makes a pass over them
 * when the informer reports a change (a burst of events is one pass) and every interval (resync:
 * back-off retries and the install gate are time-based, not event-based). Each pass finds such pods
 * and
 *   delete: deletes them (UID precondition) so their controller recreates them through the plugin;
 *   apply:  applies the capture rules in their network namespace, found through /proc, with the
 *           same applier as `outrigger init`; kubelet's next retry of proxy-validation then passes.
 * A pod is handled once per failed validation run (its restartCount), so back-off retries of the
 * same failure are not repaired twice; a failed repair is retried with exponential back-off. Its
 * bookkeeping is forgotten when the pod leaves the node, so memory follows the node's pods.
 */

import { applyCapture } from '../../apply/apply-capture.js';
import { createCommandRunner } from '../../apply/create-command-runner.js';
import { gatherHostFacts } from '../../apply/gather-host-facts.js';
import { buildCaptureConfig } from '../../capture/build-capture-config.js';
import { CaptureSettingsAnnotation, decodeCaptureSettings } from '../../capture/pod-annotations.js';
import type { Logger } from '../../common/log.js';
import { findPodNetns } from './find-pod-netns.js';
import type { KubeApi } from './kube-api.js';
import { decideRepair, type Pod, SkipReasons } from './repair-decisions.js';
import { FailureReasons, type InstallerMetrics, RepairOutcomes } from './repair-metrics.js';

/** Where the loop reads this node's pods (the informer; an array in unit tests). */
export interface NodePods {
  /** This node's pods as last seen; undefined until they were first listed. */
  current(): readonly Pod[] | undefined;
  /** Called whenever a pod of the node is added, changed or removed. */
  onChange(listener: () => void): void;
}

export interface RepairLoopOptions {
  readonly mode: 'delete' | 'apply';
  readonly nodeName: string;
  readonly excludeNamespaces: readonly string[];
  readonly hostProc: string;
  /** Resync: a pass over the cached pods at least this often. */
  readonly intervalMs: number;
  readonly pods: NodePods;
  readonly api: Pick<KubeApi, 'deletePod'>;
  /** When our entry was first in the primary config; undefined while it is not (nothing is repaired then). */
  readonly installedAt: () => number | undefined;
  readonly metrics: InstallerMetrics;
  readonly log: Logger;
}

export interface RepairResult {
  readonly pod: string;
  readonly outcome: 'repaired' | 'deleted' | 'failed' | 'skipped';
  readonly reason: string;
}

export class RepairLoop {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #handled = new Map<string, number>();
  #warned = new Set<string>();
  #failures = new Map<string, { attempts: number; retryAt: number }>();

  constructor(private readonly options: RepairLoopOptions) {
    options.pods.onChange(() => this.kick());
  }

  start(): void {
    this.#stopped = false;
    this.#timer = setInterval(() => this.kick(), this.options.intervalMs);
    this.kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  /** Asks for a pass: one runs at a time, and kicks while it runs make exactly one more. */
  kick(): void {
    if (this.#stopped || !this.#timer) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      // The informer reports a list's pods one by one, synchronously: let them all land first.
      await new Promise((resolve) => setImmediate(resolve));
      do {
        this.#again = false;
        await this.runOnce().catch((error: unknown) => this.options.log.error({ err: error }, 'a repair pass failed'));
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = undefined;
    });
  }

  /** One pass over this node's pods as the informer last saw them; returns what it did. */
  async runOnce(): Promise<RepairResult[]> {
    // Before the plugin is on the node, a deleted pod would come back uncaptured again.
    const installedAtMs = this.options.installedAt();
    if (installedAtMs === undefined) return [];
    const pods = this.options.pods.current();
    if (pods === undefined) return [];
    const results: RepairResult[] = [];
    const seen = new Set<string>();
    for (const pod of pods) {
      seen.add(pod.metadata.uid);
      const decision = decideRepair(pod, { ...this.options, installedAtMs });
      if (!decision.repair && decision.reason === SkipReasons.startedAfterInstall && !this.#warned.has(pod.metadata.uid)) {
        this.#warned.add(pod.metadata.uid);
        this.options.log.warn({ pod: `${pod.metadata.namespace}/${pod.metadata.name}` }, 'proxy-validation fails (126) in a pod created after the plugin was installed; not repairing it (check the plugin log)');
        this.options.metrics.repairs.inc({ mode: this.options.mode, outcome: RepairOutcomes.skipped, reason: 'started-after-install' });
      }
      if (!decision.repair || this.#handled.get(pod.metadata.uid) === decision.restartCount) continue;
      const backoff = this.#failures.get(pod.metadata.uid);
      if (backoff && Date.now() < backoff.retryAt) continue;
      const result = await this.#repair(pod, backoff === undefined);
      results.push(result);
      this.options.metrics.repairs.inc({ mode: this.options.mode, outcome: result.outcome, reason: result.reason });
      if (result.outcome === 'failed') {
        // Failed repairs are retried with exponential back-off (at most every 5 minutes).
        const attempts = (backoff?.attempts ?? 0) + 1;
        this.#failures.set(pod.metadata.uid, { attempts, retryAt: Date.now() + Math.min(this.options.intervalMs * 2 ** attempts, 300_000) });
      } else {
        this.#handled.set(pod.metadata.uid, decision.restartCount);
        this.#failures.delete(pod.metadata.uid);
      }
    }
    for (const uid of this.#handled.keys()) if (!seen.has(uid)) this.#handled.delete(uid);
    for (const uid of this.#failures.keys()) if (!seen.has(uid)) this.#failures.delete(uid);
    for (const uid of this.#warned) if (!seen.has(uid)) this.#warned.delete(uid);
    return results;
  }

  async #repair(pod: Pod, firstAttempt: boolean): Promise<RepairResult> {
    const { namespace, name, uid } = pod.metadata;
    const id = `${namespace}/${name}`;
    const log = this.options.log.child({ pod: id, uid, mode: this.options.mode });
    const failed = (reason: string, error: unknown): RepairResult => {
      // The first failure is an error; retries of the same pod are logged at debug level.
      log[firstAttempt ? 'error' : 'debug']({ err: error, reason }, `cannot repair pod ${id}; retrying with back-off`);
      return { pod: id, outcome: RepairOutcomes.failed, reason };
    };
    if (this.options.mode === 'delete') {
      try {
        const result = await this.options.api.deletePod(namespace, name, uid);
        log.info({ result }, 'deleted a pod that started without capture; its controller recreates it through the plugin');
        return { pod: id, outcome: RepairOutcomes.deleted, reason: 'validation-failed' };
      } catch (error) {
        return failed(FailureReasons.deleteFailed, error);
      }
    }

    let config;
    try {
      config = buildCaptureConfig(decodeCaptureSettings(pod.metadata.annotations?.[CaptureSettingsAnnotation] ?? ''));
    } catch (error) {
      return failed(FailureReasons.badAnnotation, error);
    }
    const netns = await findPodNetns(this.options.hostProc, uid).catch(() => undefined);
    if (!netns) return failed(FailureReasons.netnsNotFound, new Error(`no process of pod ${uid} in its own network namespace under ${this.options.hostProc}`));
    try {
      const runner = createCommandRunner({ netnsPath: netns.netnsPath });
      const facts = await gatherHostFacts(config, { ipv6: 'auto', resolvConfPath: netns.resolvConfPath, runner, inOwnNamespace: false });
      const report = await applyCapture({ config, facts, runner, inOwnNamespace: false, log });
      log.info({ pid: netns.pid, families: report.families }, 'applied capture in the network namespace of a pod that started without it');
      return { pod: id, outcome: RepairOutcomes.repaired, reason: 'validation-failed' };
    } catch (error) {
      return failed(FailureReasons.applyFailed, error);
    }
  }
}
