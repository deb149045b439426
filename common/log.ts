/**
 * JSON logs with pino. Command-line tools log to stderr (stdout carries their output: dry-run
 * rules, CNI results); servers may log to stdout. Secrets never go through here: callers log
 * names and counts, not certificate, key or token contents.
 *
 * Errors (the `err` field) are logged with their type, code, field problems and message (with the
 * messages of their causes appended, pino's own serializer); the JavaScript stack only when the
 * logger is at debug or trace, read at the moment of logging. A bad flag or a missing prevResult
 * is not a crash, and users should read what went wrong, not where in the bundle it was noticed.
 */

import pino from 'pino';

export type Logger = pino.Logger;

/**
 * pino's error serializer, with the error's `name` as its type and without `stack` unless
 * `withStack()` says so when the line is written.
 */
export function errorSerializer(withStack: () => boolean): (error: unknown) => unknown {
  return (error) => {
    const serialized = pino.stdSerializers.err(error as Error) as unknown;
    if (typeof serialized !== 'object' || serialized === null || serialized === error) return serialized;
    const out = serialized as { type?: unknown; stack?: string | undefined };
    // pino names the type after the constructor, which the bundles minify; outrigger's errors set `name`.
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') out.type = name;
    // The serialized object inherits an undefined `stack` from pino's prototype; JSON omits it.
    if (!withStack()) out.stack = undefined;
    return out;
  };
}

/**
 * `destination` is a file descriptor (1 stdout, 2 stderr; default 2), a file path, appended to,
 * or a stream of pino's shape (an object with `write(line)`, such as the CNI plugin's best-effort
 * log file, whose stdout belongs to the runtime).
 * `redact` lists field paths to censor; servers that log request data should pass them. It is
 * optional because compiling redaction costs start-up time that `outrigger init` does not need.
 */
export function createLogger(options: {
  level?: string;
  name: string;
  destination?: 1 | 2 | string | pino.DestinationStream;
  redact?: readonly string[];
}): Logger {
  const destination = options.destination ?? 2;
  const stream =
    typeof destination === 'object'
      ? destination
      : pino.destination({ dest: destination, sync: true, ...(typeof destination === 'string' ? { mkdir: true, append: true } : {}) });
  const logger: Logger = pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      base: { name: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: errorSerializer(() => logger.isLevelEnabled('debug')) },
      ...(options.redact ? { redact: { paths: [...options.redact], censor: '[redacted]' } } : {}),
    },
    stream,
  );
  return logger;
}
