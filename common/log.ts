/**
 * JSON logs with pino. Command-line tools log to stderr (stdout carries their output: dry-run
 * rules, CNI results); servers may log to stdout. Secrets never go through here: callers log
 * names and counts, not certificate, key or token contents.
 */

import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(options: { level?: string; name: string; destination?: 1 | 2 }): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      base: { name: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['token', '*.token', 'key', '*.key', 'authorization', '*.authorization'], censor: '[redacted]' },
    },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
}
