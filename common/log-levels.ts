/**
 * Log level names and their pino severity values, without loading pino (short-lived commands
 * check a level before deciding whether to load it at all).
 */

export const LogLevelValues = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
export type LogLevel = keyof typeof LogLevelValues;

/** Every level pino knows, least severe first, plus `silent`: servers and the CNI plugin accept these. */
export const LogLevels = Object.keys(LogLevelValues) as readonly LogLevel[];

/** What the command-line tools accept (`outrigger init`, `outrigger cni install`). */
export const CommandLogLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export function isLogLevel(text: string, among: readonly LogLevel[] = LogLevels): text is LogLevel {
  return (among as readonly string[]).includes(text);
}
