/**
 * A logger for short-lived commands (`outrigger init`) that loads pino only when a line is
 * logged at an enabled level: a run that logs nothing (`--log-level silent`, or `warn` on success)
 * never pays pino's load (~6 ms of a ~70 ms pod start). Lines that are logged go through
 * createLogger, so they are the same pino JSON as everywhere else. Each call resolves once its
 * line is written (the destination is synchronous); await it before exiting. Levels are the ones
 * the commands accept: debug, info, warn, error, silent.
 */

import { LogLevelValues } from './log-levels.js';
import type { Logger } from './log.js';

const LevelValues: Readonly<Record<string, number>> = LogLevelValues;


export type DeferredLevel = 'debug' | 'info' | 'warn' | 'error';

export type DeferredLogger = Readonly<Record<DeferredLevel, (fields: object | string, message?: string) => Promise<void>>>;

export function createDeferredLogger(options: { level?: string; name: string; destination?: 1 | 2 | string }): DeferredLogger {
  const threshold = LevelValues[options.level ?? 'info'] ?? LevelValues.info!;
  let logger: Promise<Logger> | undefined;
  const at = (level: DeferredLevel) => async (fields: object | string, message?: string): Promise<void> => {
    if (LevelValues[level]! < threshold) return;
    logger ??= import('./log.js').then(({ createLogger }) => createLogger(options));
    const log = await logger;
    if (typeof fields === 'string') log[level](fields);
    else log[level](fields, message);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
