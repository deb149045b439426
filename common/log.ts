/**
 * JSON logs with pino. Command-line tools log to stderr (stdout carries their output: dry-run
 * rules, CNI results); servers may log to stdout. Secrets never go through here: callers log
 * names and counts, not certificate, key or token contents.
 */

import pino from 'pino';

export type Logger = pino.Logger;

/**
 * `destination` is a file descriptor (1 stdout, 2 stderr; default 2) or a file path, appended to
 * (the CNI plugin's `logFile`: its stdout belongs to the runtime).
 * `redact` lists field paths to censor; servers that log request data should pass them. It is
 * optional because compiling redaction costs start-up time that `outrigger init` does not need.
 */
export function createLogger(options: { level?: string; name: string; destination?: 1 | 2 | string; redact?: readonly string[] }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      base: { name: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(options.redact ? { redact: { paths: [...options.redact], censor: '[redacted]' } } : {}),
    },
    pino.destination({ dest: options.destination ?? 2, sync: true, ...(typeof options.destination === 'string' ? { mkdir: true, append: true } : {}) }),
  );
}
