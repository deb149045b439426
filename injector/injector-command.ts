/**
 * `outrigger injector`: runs the MutatingAdmissionWebhook server until SIGTERM (or SIGINT), then
 * shuts down gracefully and exits 0. Exit codes: 2 bad flags or an invalid configuration file at
 * start (nothing was served), 1 could not start (unreadable files, no TLS secret, port in use).
 */

import { ErrorCodes, isOutriggerError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { injectorUsage, parseInjectorFlags, type ParseInjectorResult } from './injector-options.js';
import { type InjectorServer, startInjectorServer } from './server/injector-server.js';

/** Next to this chunk in dist/ (scripts/build.mjs bundles review-worker.ts under this name). */
const ReviewWorkerUrl = new URL('./injector-review-worker.mjs', import.meta.url);

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed: ParseInjectorResult;
  try {
    parsed = parseInjectorFlags(argv, env);
  } catch (error) {
    if (!isOutriggerError(error)) throw error;
    process.stderr.write(`outrigger injector: ${error.message}\n`);
    return 2;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(injectorUsage());
    return 0;
  }
  const { options } = parsed;
  const log = createLogger({ name: 'outrigger-injector', level: options.logLevel, destination: 1 });

  let server: InjectorServer | undefined;
  const candidates = options.address !== undefined ? [options.address] : ['::', '0.0.0.0'];
  for (const [index, host] of candidates.entries()) {
    try {
      server = await startInjectorServer({ ...options, host, log, reviewWorkerUrl: ReviewWorkerUrl });
      break;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (index < candidates.length - 1 && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL')) {
        log.info({ host }, 'IPv6 unavailable; listening on IPv4 only');
        continue;
      }
      const message = isOutriggerError(error) ? error.message : error instanceof Error ? error.message : String(error);
      log.fatal({ code: isOutriggerError(error) ? error.code : code, problem: message }, 'injector could not start');
      process.stderr.write(`outrigger injector: ${message}\n`);
      return isOutriggerError(error) && error.code === ErrorCodes.InvalidInput ? 2 : 1;
    }
  }
  if (!server) return 1;
  const running = server;

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'signal received');
      running.shutdown().then(resolve, (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  // Anything still holding the event loop open (a stuck watcher, a client socket) must not keep a
  // terminating pod alive: exit shortly after a clean shutdown regardless.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
