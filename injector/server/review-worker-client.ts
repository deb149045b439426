/**
 * The server's side of the review worker (review-worker.ts): one worker thread, started on the
 * first large request and kept, reviewing one body at a time in arrival order, so only one large
 * body is ever being parsed and its memory is bounded:
 * - the worker's heap is capped (`resourceLimits`); a body that needs more ends the worker with
 *   ERR_WORKER_OUT_OF_MEMORY and is answered `memory` (HTTP 413); the next job starts a new worker;
 * - a review that runs past `timeoutMs` ends the worker (`timeout`, an internal error: every step
 *   of a review is linear, nothing legitimate comes near it);
 * - at most `maxQueued` reviews wait; more are answered `busy` (HTTP 429) instead of held.
 * Hand-written over node:worker_threads rather than a pool library (piscina, tinypool): they start
 * their own worker script by file path next to their package, which the single esbuild bundle the
 * image ships does not contain, and one worker needs no pool.
 */

import { Worker } from 'node:worker_threads';
import type { Logger } from '../../common/log.js';
import type { ReviewAnswer } from '../admission/answer-review.js';
import type { InjectorConfig } from '../config/injector-config.js';
import type { ReviewJob, ReviewResult } from './review-worker.js';

/** The worker's young generation, MiB: small (more frequent scavenges) to keep its peak memory low. */
export const ReviewWorkerYoungMb = 8;

export type WorkerAnswer =
  | { readonly kind: 'answer'; readonly answer: ReviewAnswer }
  | { readonly kind: 'memory' | 'timeout' | 'crashed' | 'busy'; readonly problem: string };

export interface ReviewWorkerOptions {
  /** The worker's module (dist/injector-review-worker.mjs). */
  readonly url: URL;
  /** The configuration in force, read for every job (sent to the worker when it changed). */
  readonly config: () => InjectorConfig;
  /** The worker's old-generation heap, MiB. */
  readonly maxHeapMb: number;
  readonly timeoutMs: number;
  readonly maxQueued: number;
  readonly log: Logger;
}

interface Job {
  readonly body: Uint8Array;
  readonly resolve: (answer: WorkerAnswer) => void;
  id?: number;
  worker?: Worker;
}

export class ReviewWorkerClient {
  readonly #options: ReviewWorkerOptions;
  readonly #queue: Job[] = [];
  #worker: Worker | undefined;
  #sentConfig: InjectorConfig | undefined;
  #running: Job | undefined;
  #timer: NodeJS.Timeout | undefined;
  #nextId = 1;
  #closed = false;

  constructor(options: ReviewWorkerOptions) {
    this.#options = options;
  }

  /** `body` is handed over: its memory moves to the worker when it owns it whole (do not use it after). */
  review(body: Uint8Array): Promise<WorkerAnswer> {
    if (this.#closed) return Promise.resolve({ kind: 'busy', problem: 'the injector is shutting down' });
    if (this.#queue.length >= this.#options.maxQueued) {
      return Promise.resolve({ kind: 'busy', problem: `${this.#queue.length} large AdmissionReviews are already waiting to be reviewed` });
    }
    return new Promise((resolve) => {
      this.#queue.push({ body, resolve });
      this.#pump();
    });
  }

  /** Ends the worker; waiting reviews are answered `busy`. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.resolve({ kind: 'busy', problem: 'the injector is shutting down' });
    const worker = this.#worker;
    this.#worker = undefined;
    if (this.#running) this.#finish(this.#running, { kind: 'crashed', problem: 'the injector shut down during the review' });
    await worker?.terminate();
  }

  #pump(): void {
    if (this.#running || this.#queue.length === 0) return;
    const job = this.#queue.shift() as Job;
    const worker = this.#ensureWorker();
    const config = this.#options.config();
    job.id = this.#nextId++;
    job.worker = worker;
    const { body } = job;
    const message: ReviewJob = { id: job.id, body, ...(config !== this.#sentConfig ? { config } : {}) };
    this.#sentConfig = config;
    this.#running = job;
    this.#timer = setTimeout(() => {
      this.#options.log.error({ timeoutMs: this.#options.timeoutMs }, 'a review in the worker took too long; replacing the worker');
      this.#discard(worker);
      this.#finish(job, { kind: 'timeout', problem: `the review took longer than ${this.#options.timeoutMs} ms` });
    }, this.#options.timeoutMs);
    // Moved, not copied, when the body owns its memory (fastify concatenates bodies over 4 KiB
    // into a buffer of their own); the main thread keeps no copy of a large body once it is queued.
    const owns = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    worker.postMessage(message, owns ? [body.buffer as ArrayBuffer] : []);
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(this.#options.url, {
      resourceLimits: { maxOldGenerationSizeMb: this.#options.maxHeapMb, maxYoungGenerationSizeMb: ReviewWorkerYoungMb },
    });
    // The server's handles keep the process alive, not an idle worker.
    worker.unref();
    worker.on('message', (result: ReviewResult) => {
      const job = this.#running;
      if (job && job.worker === worker && job.id === result.id) this.#finish(job, { kind: 'answer', answer: result.answer });
    });
    worker.on('error', (error: Error & { code?: string }) => {
      this.#discard(worker);
      const job = this.#running;
      if (!job || job.worker !== worker) return;
      if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.#finish(job, { kind: 'memory', problem: `reviewing it needs more than the review worker's ${this.#options.maxHeapMb} MiB heap` });
      } else {
        this.#options.log.error({ err: error }, 'the review worker failed');
        this.#finish(job, { kind: 'crashed', problem: error.message });
      }
    });
    worker.on('exit', (code) => {
      this.#discard(worker);
      const job = this.#running;
      if (job && job.worker === worker) this.#finish(job, { kind: 'crashed', problem: `the review worker exited (code ${code})` });
    });
    this.#worker = worker;
    this.#sentConfig = undefined;
    return worker;
  }

  /** Stops using `worker` (ended, failed or too slow); the next job starts a new one. */
  #discard(worker: Worker): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#sentConfig = undefined;
    void worker.terminate();
  }

  #finish(job: Job, answer: WorkerAnswer): void {
    if (this.#running !== job) return;
    clearTimeout(this.#timer);
    this.#running = undefined;
    job.resolve(answer);
    this.#pump();
  }
}
