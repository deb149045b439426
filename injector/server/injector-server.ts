/**
 * The injector process around the app plugin: loads the configuration and the serving
 * certificate, listens on one HTTPS port (TLS 1.2+, forward-secret AEAD suites only: tls-material.ts),
 * reviews large bodies in a worker thread (review-worker-client.ts), keeps both reloaded, and shuts down
 * gracefully: not ready first (`/readyz` answers 503 while endpoints are withdrawn), a drain
 * period still serving, then the listener closes, idle keep-alive connections are closed and
 * in-flight requests finish, bounded by a hard timeout.
 *
 * Keep-alive during the drain: kube-apiserver resolves a webhook Service's endpoint only when it
 * dials, and reuses pooled connections whatever the endpoint's readiness since; it never retries an
 * admission call. So a replica that only stopped being ready would keep getting requests on old
 * connections until it closed them, and one arriving as it closes fails the pod's create (seen in
 * test/integration/cluster-availability.test.ts). During the drain every response says
 * `Connection: close`, so each connection the API server is using is retired cleanly after its next
 * request and it redials (to a ready replica); a request that still arrives while closing is served,
 * not answered 503. Idle connections are not closed during the drain: a server-side close races with
 * a request the client is writing on that connection, and Go's client does not retry a POST that
 * loses that race ("server closed idle connection"; seen when a sweep closed them every 200 ms).
 * Only the connections idle for the whole drain are closed at its end.
 */

import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import fastify, { LogController } from 'fastify';
import type { Logger } from '../../common/log.js';
import { admitReview } from '../admission/admit-review.js';
import { createInjectorMetrics, type InjectorMetrics } from '../metrics/injector-metrics.js';
import { loadCertFiles, watchCertFiles } from '../tls/cert-files.js';
import { ServingCertificate } from '../tls/serving-certificate.js';
import type { SelfManagedTlsOptions } from '../tls/self-managed-tls.js';
import { openConfigFile } from './config-file.js';
import { injectorApp, MaxBodyBytes, MaxLargeInFlight } from './injector-app.js';
import { ReviewWorkerClient } from './review-worker-client.js';

/**
 * The review worker's heap (old generation, MiB): what reviewing any body under 6 MiB of a real
 * pod's shape needs, with room; a hostile shape that needs more is answered 413. With the server's
 * own heap this keeps the process under the manifest's 256 Mi limit (README "Injector server").
 */
export const ReviewWorkerHeapMb = 64;
/** No review comes near this (every step is linear); past it the worker is replaced. */
export const ReviewWorkerTimeoutMs = 10_000;

export type TlsSource =
  | { readonly mode: 'files'; readonly certFile: string; readonly keyFile: string }
  | ({ readonly mode: 'self-managed' } & SelfManagedTlsOptions);

export interface InjectorServerOptions {
  readonly host: string;
  readonly port: number;
  readonly configFile: string | undefined;
  readonly tls: TlsSource;
  /** Poll interval for the mounted config and certificate (beside the directory watch). */
  readonly reloadPollMs: number;
  /** How long to keep serving after /readyz turns 503 on shutdown. */
  readonly drainMs: number;
  /**
   * A keep-alive connection older than this gets `Connection: close` on its next response, so the API
   * server redials and re-resolves the Service (0: never). Spreads load over replicas.
   */
  readonly maxConnectionAgeMs: number;
  /** After the drain, how long in-flight requests may take before connections are cut. */
  readonly shutdownTimeoutMs: number;
  readonly log: Logger;
  readonly metrics?: InjectorMetrics;
  /**
   * The review worker's module (dist/injector-review-worker.mjs, which the CLI passes). Without it
   * every body is reviewed on the server's thread (tests that run the sources in process).
   */
  readonly reviewWorkerUrl?: URL;
}

export interface InjectorServer {
  readonly port: number;
  readonly metrics: InjectorMetrics;
  /** Not ready, drain, close; resolves when every connection is done (or cut at the timeout). */
  shutdown(): Promise<void>;
}

export async function startInjectorServer(options: InjectorServerOptions): Promise<InjectorServer> {
  const { log } = options;
  const metrics = options.metrics ?? createInjectorMetrics();
  const closers: (() => void)[] = [];
  let reviewWorker: ReviewWorkerClient | undefined;
  try {
    const config = await openConfigFile({ path: options.configFile, pollMs: options.reloadPollMs, log, metrics });
    closers.push(() => config.close());

    const serving = new ServingCertificate(log, metrics);
    let startTls: () => void;
    if (options.tls.mode === 'files') {
      const paths = { cert: options.tls.certFile, key: options.tls.keyFile };
      serving.use(await loadCertFiles(paths), 'files');
      startTls = () => {
        const watch = watchCertFiles({ paths, serving, pollMs: options.reloadPollMs, log, metrics });
        closers.push(() => watch.close());
      };
    } else {
      // Loaded only in this mode: certificate generation and the Kubernetes client are large.
      const { startSelfManagedTls } = await import('../tls/self-managed-tls.js');
      const selfManaged = await startSelfManagedTls(options.tls, { serving, log, metrics });
      closers.push(() => selfManaged.close());
      startTls = () => selfManaged.start();
    }

    if (options.reviewWorkerUrl) {
      reviewWorker = new ReviewWorkerClient({
        url: options.reviewWorkerUrl,
        config: () => config.current(),
        maxHeapMb: ReviewWorkerHeapMb,
        timeoutMs: ReviewWorkerTimeoutMs,
        maxQueued: MaxLargeInFlight,
        log,
      });
    }

    let shuttingDown = false;
    const app = fastify({
      https: serving.serverOptions(),
      loggerInstance: log,
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: MaxBodyBytes,
      // The API server's webhook timeout is at most 30 s; nothing legitimate takes longer.
      requestTimeout: 30_000,
      connectionTimeout: 60_000,
      return503OnClosing: false,
    });
    // Connection age: kube-apiserver picks a webhook endpoint only when it dials and keeps its pooled
    // connections, so without an age limit the replicas that were there first keep the load and a
    // replica added later (scale-out, rollout) gets little of it (BENCHMARKS.md, cluster admission).
    const connectionBorn = new WeakMap<object, number>();
    app.addHook('onRequest', async (request) => {
      if (!connectionBorn.has(request.raw.socket)) connectionBorn.set(request.raw.socket, Date.now());
    });
    app.addHook('onSend', async (request, reply, payload) => {
      const born = connectionBorn.get(request.raw.socket) ?? Date.now();
      const tooOld = options.maxConnectionAgeMs > 0 && Date.now() - born >= options.maxConnectionAgeMs;
      if (shuttingDown || tooOld) reply.header('connection', 'close');
      return payload;
    });
    await app.register(injectorApp, {
      admit: (review) => admitReview(review, config.current()),
      metrics,
      isReady: () => !shuttingDown,
      ...(reviewWorker ? { reviewWorker } : {}),
    });
    await app.listen({ host: options.host, port: options.port });
    const server = app.server as HttpsServer;
    serving.attach(server);
    startTls();
    const port = (server.address() as AddressInfo).port;
    log.info({ host: options.host, port, tls: options.tls.mode }, 'injector listening (HTTPS)');

    let shutdown: Promise<void> | undefined;
    return {
      port,
      metrics,
      shutdown() {
        shutdown ??= (async () => {
          shuttingDown = true;
          log.info({ drainMs: options.drainMs }, 'shutting down: not ready, draining');
          await sleep(options.drainMs);
          for (const close of closers) close();
          const cut = setTimeout(() => {
            log.warn({ timeoutMs: options.shutdownTimeoutMs }, 'in-flight requests did not finish in time; closing their connections');
            server.closeAllConnections();
          }, options.shutdownTimeoutMs);
          cut.unref();
          await app.close();
          // After the in-flight requests: a large review may still be in the worker until then.
          await reviewWorker?.close();
          clearTimeout(cut);
          log.info('injector stopped');
        })();
        return shutdown;
      },
    };
  } catch (error) {
    for (const close of closers) close();
    await reviewWorker?.close();
    throw error;
  }
}
