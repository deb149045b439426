/**
 * This node's pods, kept current by @kubernetes/client-node's informer (ListWatch): one list of
 * `/api/v1/pods?fieldSelector=spec.nodeName=NODE` (resourceVersion=0: from the API server's watch
 * cache), then a watch with the same field selector from the list's resourceVersion, so the API
 * server sends only this node's pod events. Each pod is cut down to a pod view (pod-view.ts) before
 * the informer caches it, so memory is a few hundred bytes per pod of one node. Listeners hear of
 * every add, change and removal; the repair loop re-reads the cache on its own resync timer too.
 *
 * Reconnecting: the library re-opens a watch that ends (the API server's timeout after 30-60 min,
 * client-node's 30 s inactivity timeout on a quiet node) from the last resourceVersion, and lists
 * again after 410 Gone. When a list or a watch request fails (API server down or restarting,
 * 401/403, 5xx) the library stops; this file starts it again after an exponential back-off with
 * jitter (1 s doubling to 30 s, reset by the next successful list or event), so it never
 * busy-loops. The cache is kept meanwhile (the repair loop may act on it: its deletes carry UID
 * preconditions). An outage is logged once when it starts and once when it ends.
 */

import { type KubeConfig, ListWatch, type KubernetesObject, Watch } from '@kubernetes/client-node';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { type KubeApi, nodeFieldSelector } from './kube-api.js';
import { podView } from './pod-view.js';
import type { Pod } from './repair-decisions.js';
import type { NodePods } from './repair-loop.js';

export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DefaultBackoff: Backoff = { baseMs: 1_000, maxMs: 30_000 };

/** The wait before restart number `attempt` (0-based): base·2^attempt capped at max, times a jitter in [0.5, 1.5). */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  return Math.round(Math.min(backoff.baseMs * 2 ** Math.min(attempt, 30), backoff.maxMs) * (0.5 + random()));
}

/**
 * client-node's Watch, with pod events turned into pod views before the informer caches them, and
 * no request outliving the informer's stop: ListWatch.stop() aborts only a watch that is already
 * connected, and after its reconnect delay it opens the next watch without checking whether it was
 * stopped meanwhile (client-node 2.0.1, cache.js doneHandler).
 */
class PodViewWatch extends Watch {
  constructor(config: KubeConfig, private readonly stopped: () => boolean) {
    super(config);
  }

  override async watch(path: string, query: Record<string, string | number | boolean | undefined>, callback: (phase: string, object: unknown, event?: unknown) => void, done: (error: unknown) => void): Promise<AbortController> {
    const view = (phase: string, object: unknown, event?: unknown) =>
      callback(phase, phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? podView(object) : object, event);
    const aborted = new AbortController();
    aborted.abort();
    if (this.stopped()) return aborted;
    try {
      const controller = await super.watch(path, query, view, done);
      if (this.stopped()) controller.abort(); // stopped while connecting
      return controller;
    } catch (error) {
      // Only a failure before the request (no cluster in the config) lands here; end this watch
      // the way a failed request does, so the informer reports it instead of rejecting unobserved.
      done(error);
      return aborted;
    }
  }
}

/** A list or watch failure as one error naming the request, for the log. */
function informerFailure(nodeName: string, error: unknown): OutriggerError {
  if (error instanceof OutriggerError) return error;
  const fields = (typeof error === 'object' && error !== null ? error : {}) as { statusCode?: unknown; message?: unknown; cause?: { code?: unknown } };
  const cause = fields.cause?.code;
  const detail = typeof fields.statusCode === 'number' ? `HTTP ${fields.statusCode} ${String(fields.message ?? '')}`.trim()
    : typeof cause === 'string' ? cause : String(fields.message ?? error);
  return new OutriggerError(ErrorCodes.Unavailable, `API server watch pods ${nodeFieldSelector(nodeName)}: ${detail}`, { cause: detail });
}

export class NodePodInformer implements NodePods {
  readonly #informer: ListWatch<KubernetesObject>;
  readonly #listeners: (() => void)[] = [];
  #listed = false;
  #failing = false;
  #attempts = 0;
  #restart: NodeJS.Timeout | undefined;
  #stopped = false;
  /** The library's reconnect delays in progress; stop() ends them at once. */
  readonly #sleepers = new Set<() => void>();

  constructor(
    api: KubeApi,
    private readonly nodeName: string,
    private readonly log: Logger,
    private readonly backoff: Backoff = DefaultBackoff,
  ) {
    const list = async () => {
      const result = await api.listNodePods(nodeName);
      // The view is what the cache holds; the cast is the one seam between our Pod and client-node's object type.
      const items = result.items.map((item) => podView(item) as unknown as KubernetesObject);
      if (!this.#listed || this.#failing) log.info({ pods: items.length, node: nodeName }, 'listed the pods of this node; watching them');
      this.#listed = true;
      this.#recovered();
      return { ...result, items };
    };
    const delayFn = (ms: number) => new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
    const watch = new PodViewWatch(api.config, () => this.#stopped);
    this.#informer = new ListWatch('/api/v1/pods', watch, list, false, undefined, nodeFieldSelector(nodeName), { delayFn });
    const changed = () => {
      this.#recovered();
      for (const listener of this.#listeners) listener();
    };
    for (const verb of ['add', 'update', 'delete'] as const) this.#informer.on(verb, changed);
    this.#informer.on('error', (error: unknown) => this.#failed(error));
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** This node's pods as last seen; undefined until the first list arrived. */
  current(): readonly Pod[] | undefined {
    return this.#listed ? (this.#informer.list() as unknown as readonly Pod[]) : undefined;
  }

  /** Lists and starts watching; failures are retried in the background, never thrown. */
  start(): void {
    this.#stopped = false;
    this.#informer.start().catch((error: unknown) => this.#failed(error));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restart);
    this.#restart = undefined;
    await this.#informer.stop();
    for (const wake of [...this.#sleepers]) wake();
  }

  #recovered(): void {
    if (this.#failing) this.log.info({ node: this.nodeName }, 'listing and watching the pods of this node works again');
    this.#failing = false;
    this.#attempts = 0;
  }

  #failed(error: unknown): void {
    if (this.#stopped || this.#restart) return;
    const delayMs = backoffDelay(this.#attempts++, this.backoff);
    const err = informerFailure(this.nodeName, error);
    if (!this.#failing) this.log.error({ err, retryInMs: delayMs }, 'cannot list or watch the pods of this node; retrying with back-off');
    else this.log.debug({ err, retryInMs: delayMs }, 'still cannot list or watch the pods of this node');
    this.#failing = true;
    this.#restart = setTimeout(() => {
      this.#restart = undefined;
      if (!this.#stopped) this.start();
    }, delayMs);
  }
}
